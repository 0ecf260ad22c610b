"""Validates a FHIR R4 Bundle exported by Yiqiao against the FHIR structure (fhir.resources, R4B models).

Usage: python3 tests/fhir/validate.py bundle.json  — exits non-zero with the validation errors.
"""
import json
import sys

from fhir.resources.R4B.bundle import Bundle


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    bundle = Bundle.model_validate(data)
    kinds = sorted({e.resource.__resource_type__ for e in bundle.entry})
    print(f"valid FHIR Bundle with {len(bundle.entry)} entries: {', '.join(kinds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
