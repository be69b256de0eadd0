"""Seedream 4.5's limits on Oxen, in one place (oxen-api.md §10 and the model page).

The generate form, the upload and reference checks and the client all read these, so a limit
that changes upstream changes here once. Values a live request schema declares (e.g.
``maxItems`` of the reference array) take precedence where the schema is at hand; these are the
documented values used before it is read and where it says nothing.
"""

from __future__ import annotations

# Images a single request may produce (``num_generations``; the gallery's batch size).
BATCH_MIN = 1
BATCH_MAX = 4

# Reference images a single request may carry.
MAX_REFERENCES = 14

# Each reference image, as Oxen receives it: at most 10 MB ("MB" is not defined there, so the
# smaller, decimal reading), both sides larger than 14 px, at most 6000 px a side, and an
# aspect ratio (long side over short side) within [1/16, 16]. The upstream provider's docs for
# Seedream 4.x state these (contract section 10); the 1:3 to 3:1 some mirrors give for 4.0 is
# not Seedream 4.5's and refused images Oxen takes. Formats: ``seedream.mediatypes``.
REFERENCE_MAX_BYTES = 10_000_000
REFERENCE_MIN_SIDE = 15
REFERENCE_MAX_SIDE = 6000
REFERENCE_MAX_ASPECT = 16
