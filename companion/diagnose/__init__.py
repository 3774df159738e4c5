"""The read-only diagnosis of a shop's first contact (`recore-connector diagnose`, 「接続診断」):
ReCORE (`recore_check`) and the Yahoo store (`yahoo_check`, facts counted by `page_facts`), all
written through `redact` into one zip with a Japanese summary (`bundle`)."""
