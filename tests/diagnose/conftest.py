"""The diagnosis runs against the same wired companion and sandboxes as direct listing."""

from tests.direct.conftest import _fast_direct_listing, make_wired, sandboxes  # noqa: F401
