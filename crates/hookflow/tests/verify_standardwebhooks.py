"""Verifies captured hookflow deliveries with the standardwebhooks library.

Reads a JSON list of {"secrets": [...], "headers": {...}, "body": "..."} from
the file named by the first argument. Every delivery must verify with every
secret listed for it (during a rotation both the old and the new secret sign).
Prints one line per check and exits non-zero on the first failure.
"""
import json
import sys
import time

from standardwebhooks.webhooks import Webhook

deliveries = json.load(open(sys.argv[1]))
checked = 0
for i, d in enumerate(deliveries):
    for secret in d["secrets"]:
        payload = Webhook(secret).verify(d["body"], d["headers"])
        assert isinstance(payload, dict) and "type" in payload, payload
        checked += 1
        print(f"delivery {i}: verified with {secret[:10]}...: {payload['type']}")
    # A tampered body must not verify.
    try:
        Webhook(d["secrets"][0]).verify(d["body"] + " ", d["headers"])
    except Exception:
        pass
    else:
        sys.exit(f"delivery {i}: a tampered body verified")
print(f"{checked} signatures verified at {int(time.time())}")
