"""World "next" of the Yahoo sandbox: the pages that differ from world "classic" (see
docs/yahoo-sandbox.md, "World next"). The state behind them is the shared `World`."""
