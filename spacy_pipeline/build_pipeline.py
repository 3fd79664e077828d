"""Build the offline spaCy pipeline the NLU uses, and package it as a wheel.

No spaCy model can be downloaded here (official models are hosted outside the
package registries), so we build one from registry packages: a blank English
pipeline (tokenizer rules) plus the lookup lemmatizer whose tables come from
`spacy-lookups-data`. `spacy package` turns it into an installable package so
Rasa loads it by name (`en_achilles_lookup`) from any working directory.

Usage: python spacy_pipeline/build_pipeline.py OUTPUT_DIR
Prints the path of the built wheel.
"""

import subprocess
import sys
from pathlib import Path

import spacy

PIPELINE_NAME = "achilles_lookup"  # packaged as en_achilles_lookup
PIPELINE_VERSION = "1.0.0"


def build(output_dir: Path) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the lookup tables from spacy-lookups-data
    nlp.meta["name"] = PIPELINE_NAME
    nlp.meta["version"] = PIPELINE_VERSION
    nlp.meta["description"] = "Blank English tokenizer + lookup lemmatizer (offline)"

    pipeline_dir = output_dir / "pipeline"
    package_dir = output_dir / "package"
    pipeline_dir.mkdir(parents=True, exist_ok=True)
    package_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(pipeline_dir)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy",
            "package",
            str(pipeline_dir),
            str(package_dir),
            "--build",
            "wheel",
            "--force",
        ],
        check=True,
    )
    wheels = sorted(package_dir.glob(f"*/dist/en_{PIPELINE_NAME}-{PIPELINE_VERSION}-*.whl"))
    if not wheels:
        raise SystemExit(f"spacy package produced no wheel under {package_dir}")
    return wheels[-1]


if __name__ == "__main__":
    print(build(Path(sys.argv[1]).resolve()))
