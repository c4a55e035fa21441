#!/usr/bin/env python3
"""Reference side of the ol-inference interop test (crates/inference/tests/peft_interop.rs).

Runs Hugging Face ``transformers`` + ``peft`` (PyPI, CPU, F32), the reference implementation of
the Llama family and of LoRA, on the same base models and adapters as ol-inference, and prints
next-token logits for the Rust test to compare with its own.

Usage:
    peft_interop.py JOBS.json      # prints one JSON object on stdout

``JOBS.json`` holds ``{"prompts": [[token ids], ...], "jobs": [job, ...]}``; each job is one of

* ``{"name", "mode": "load", "model_dir", "adapter_dir"}``: load a model folder and an adapter
  folder written by ol-inference with ``AutoModelForCausalLM.from_pretrained`` and
  ``PeftModel.from_pretrained``, checking that every stored tensor was taken up unchanged (a
  from_pretrained that silently re-initialises a missing weight would otherwise pass as a
  numerical mismatch, or worse, not at all).
* ``{"name", "mode": "create", "model_dir", "adapter_dir", "config", "lora", "seed"}``: build a
  model of ``config`` (``model_type`` plus any ``config.json`` fields, as ``AutoConfig.for_model``
  takes them) with random weights, wrap it in a LoRA adapter of ``lora`` (``LoraConfig``
  arguments) with random ``lora_A`` *and* ``lora_B`` (PEFT initialises B to zero, which would make
  the adapter a no-op and the test blind to it), and save both with ``save_pretrained``
  (safetensors), plus a byte-level BPE ``tokenizer.json`` made with ``tokenizers`` so the folder is
  a complete Hugging Face model. ``tokenizer_check`` in the output gives the ids the tokenizer
  assigns to a few strings, for the Rust side to compare with its own tokenizer.

Output: ``{"versions": {...}, "results": {name: {"base": [[logits of the last position] per
prompt], "adapted": [...], "tokenizer_check": [[text, ids], ...]?}}}``.

Requires the PyPI packages of tests/requirements.txt (torch, transformers, peft, safetensors).
"""

import json
import math
import sys

import safetensors.torch
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

# The reference runs in F32 on the CPU with the plain (eager) attention: the implementation the
# others are tested against, and no fused kernel whose rounding differs between machines.
DTYPE = torch.float32
ATTENTION = "eager"

# Strings whose token ids the Rust side compares with its own tokenizer's.
TOKENIZER_TEXTS = ["Hello, world!", "OpenLedger pays its data contributors.", "naïve café ✓"]


def logits_for(model, prompts):
    """Last-position logits of each prompt, each run alone (no padding to get wrong)."""
    out = []
    with torch.no_grad():
        for ids in prompts:
            logits = model(input_ids=torch.tensor([ids], dtype=torch.long)).logits
            out.append(logits[0, -1].to(torch.float64).tolist())
    return out


def base_and_adapted(peft_model, prompts):
    """Logits of the base model (adapter disabled) and of base + adapter."""
    peft_model.eval()
    with peft_model.disable_adapter():
        base = logits_for(peft_model, prompts)
    return base, logits_for(peft_model, prompts)


def randomise_base(model, gen):
    """Replaces transformers' initialisation (normal, std 0.02: logits so small that any
    mismatch would hide under the tolerance) by weights of the magnitudes ol-inference's
    ``LlamaModel::random`` uses. Tied heads are one parameter and are drawn once."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                values = 1.0 + uniform(p.shape, 0.1, gen)
            elif name.endswith(".bias"):
                values = uniform(p.shape, 0.05, gen)
            elif "embed_tokens" in name or name.startswith("lm_head"):
                values = uniform(p.shape, 1.0, gen)
            else:
                values = uniform(p.shape, 1.0 / math.sqrt(p.shape[-1]), gen)
            p.copy_(values)


def randomise_lora(peft_model, gen):
    """Draws every LoRA factor uniformly in ``±1/sqrt(fan_in)`` (B included, see above)."""
    count = 0
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                p.copy_(uniform(p.shape, 1.0 / math.sqrt(p.shape[-1]), gen))
                count += 1
    if count == 0:
        raise SystemExit("the LoRA config targets no module of the model")


def uniform(shape, bound, gen):
    return (torch.rand(shape, generator=gen, dtype=DTYPE) * 2.0 - 1.0) * bound


def save_tokenizer(model_dir, vocab_size, bos, eos):
    """A byte-level BPE tokenizer trained on a few sentences, with ``<s>``/``</s>`` at the model's
    bos/eos ids, saved as transformers saves one (``tokenizer.json``, ``tokenizer_config.json``
    with a chat template)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<unk>", "<s>", "</s>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [
        "OpenLedger is a rollup in which every paid inference is traced back to its data.",
        "Contributors pool data in Datanets; models and adapters are trained on it.",
        "Hello, world! The quick brown fox jumps over the lazy dog.",
    ] * 4
    tok.train_from_iterator(corpus, trainer)
    if tok.token_to_id("<s>") != bos or tok.token_to_id("</s>") != eos:
        raise SystemExit("the tokenizer's special tokens must sit at the config's bos/eos ids")
    if tok.get_vocab_size() > vocab_size:
        raise SystemExit("the tokenizer outgrew the model's vocabulary")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.chat_template = (
        "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
    )
    fast.save_pretrained(model_dir)
    return [[t, tok.encode(t).ids] for t in TOKENIZER_TEXTS]


def create(job, prompts):
    gen = torch.Generator().manual_seed(job["seed"])
    spec = dict(job["config"])
    model_type = spec.pop("model_type")
    config = AutoConfig.for_model(model_type, **spec)
    model = AutoModelForCausalLM.from_config(config, attn_implementation=ATTENTION, dtype=DTYPE)
    randomise_base(model, gen)
    model.save_pretrained(job["model_dir"])
    check = save_tokenizer(
        job["model_dir"], config.vocab_size, config.bos_token_id, config.eos_token_id
    )
    peft_model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **job["lora"]))
    randomise_lora(peft_model, gen)
    peft_model.save_pretrained(job["adapter_dir"])
    base, adapted = base_and_adapted(peft_model, prompts)
    return {"base": base, "adapted": adapted, "tokenizer_check": check}


def load(job, prompts):
    model, info = AutoModelForCausalLM.from_pretrained(
        job["model_dir"], dtype=DTYPE, attn_implementation=ATTENTION, output_loading_info=True
    )
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise SystemExit(f"{job['name']}: transformers did not load the model cleanly: {problems}")
    peft_model = PeftModel.from_pretrained(model, job["adapter_dir"])
    check_adapter_loaded(job, peft_model)
    base, adapted = base_and_adapted(peft_model, prompts)
    return {"base": base, "adapted": adapted}


def check_adapter_loaded(job, peft_model):
    """Every tensor of the adapter file sits unchanged in the model, and the model has no LoRA
    factor the file did not provide (PEFT only warns about either)."""
    stored = safetensors.torch.load_file(f"{job['adapter_dir']}/adapter_model.safetensors")
    state = {
        k.replace(".default.", "."): v
        for k, v in peft_model.state_dict().items()
        if "lora_" in k
    }
    missing = sorted(set(state) - set(stored))
    extra = sorted(set(stored) - set(state))
    if missing or extra:
        raise SystemExit(
            f"{job['name']}: adapter tensors not matched: in the model only {missing[:4]}, "
            f"in the file only {extra[:4]}"
        )
    for name, t in stored.items():
        if not torch.equal(state[name].to(DTYPE), t.to(DTYPE)):
            raise SystemExit(f"{job['name']}: {name} changed on load")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    # One thread: the models are tiny, and the test runs next to a parallel build.
    torch.set_num_threads(1)
    # Progress bars would bury an error in the stderr the Rust test shows on failure.
    transformers.logging.disable_progress_bar()
    torch.manual_seed(0)
    prompts = spec["prompts"]
    results = {}
    for job in spec["jobs"]:
        run = {"create": create, "load": load}[job["mode"]]
        results[job["name"]] = run(job, prompts)
    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": __import__("peft").__version__,
    }
    json.dump({"versions": versions, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
