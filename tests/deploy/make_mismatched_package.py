"""Copy an AOTI package, recording another schema of gelu_ext::gelu in it.

    python make_mismatched_package.py IN.pt2 OUT.pt2

OUT.pt2 is IN.pt2 (written by ``python -m gelu_ext export``) whose metadata
(``gelu_ext.ops``) says it was exported for a gelu_ext::gelu with one more
argument, as a package exported against another release of the op library
would. Loading it from C++ with this op library must fail with a clear
schema-mismatch error (tested with gelu_ext_infer). No compiler is needed.
"""

from __future__ import annotations

import json
import sys
import zipfile

OTHER_SCHEMA = 'gelu_ext::gelu(Tensor self, str approximate="none", float scale=1.) -> Tensor'


def main(src: str, dst: str) -> None:
    changed = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("_metadata.json"):
                metadata = json.loads(data)
                if "gelu_ext.ops" in metadata:
                    metadata["gelu_ext.ops"] = OTHER_SCHEMA
                    data = json.dumps(metadata).encode()
                    changed += 1
            zout.writestr(info, data)
    if changed == 0:
        sys.exit(f"make_mismatched_package.py: {src} records no gelu_ext.ops metadata")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
