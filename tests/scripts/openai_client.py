"""Drives `openledger serve` with the official `openai` Python client, as a user would.

Checks what the issue asks of the API and exits non-zero on the first mismatch; prints one JSON
object with the outputs the Rust side cross-checks against the engine run in-process.

python openai_client.py --base-url URL --model BASE --adapter NAME --other-adapter NAME
"""

import argparse
import concurrent.futures
import json
import sys

import openai
from openai import OpenAI


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def expect_error(exc_type, status, fn, what):
    try:
        fn()
    except exc_type as e:
        check(e.status_code == status, f"{what}: status {e.status_code}, want {status}")
        body = e.body if isinstance(e.body, dict) else {}
        check("message" in body, f"{what}: the error has OpenAI's shape: {e.body}")
        return str(body.get("message"))
    check(False, f"{what}: no {exc_type.__name__} raised")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--adapter", required=True)
    ap.add_argument("--other-adapter", required=True)
    ap.add_argument("--context", type=int, required=True)
    args = ap.parse_args()
    client = OpenAI(base_url=args.base_url, api_key="unused", max_retries=0, timeout=120)
    out = {}

    # Models: the base and every adapter, with the base as parent.
    models = {m.id: m for m in client.models.list().data}
    check(args.model in models, f"the base model is listed: {list(models)}")
    for name in (args.adapter, args.other_adapter):
        check(name in models, f"adapter {name} is listed")
        check(getattr(models[name], "parent", None) == args.model, "an adapter's parent is the base")

    # Completions: the base and an adapter, greedy, with usage and logprobs.
    prompt_ids = [72, 101, 108, 108, 111]
    for key, model in (("base", args.model), ("adapter", args.adapter)):
        r = client.completions.create(
            model=model, prompt=prompt_ids, max_tokens=12, temperature=0, logprobs=2,
            extra_body={"ignore_eos": True},
        )
        check(r.object == "text_completion", "object is text_completion")
        check(r.model == model, f"the response names the model asked for: {r.model}")
        c = r.choices[0]
        check(c.finish_reason == "length", f"finish_reason length: {c.finish_reason}")
        check(r.usage.prompt_tokens == len(prompt_ids), "usage.prompt_tokens")
        check(r.usage.completion_tokens == 12, f"usage.completion_tokens {r.usage.completion_tokens}")
        check(r.usage.total_tokens == 12 + len(prompt_ids), "usage.total_tokens")
        check(len(c.logprobs.token_logprobs) == 12, "one logprob per token")
        # Keyed by token text: two byte tokens that both decode to U+FFFD share one key.
        check(all(1 <= len(t) <= 2 for t in c.logprobs.top_logprobs), "two alternatives per token")
        check(all(lp <= 0 for lp in c.logprobs.token_logprobs), "logprobs are <= 0")
        out[key] = c.text
    check(out["base"] != out["adapter"], "the adapter changes the output")

    # A seeded sampled request repeats exactly; another seed differs.
    def sampled(seed, model=args.adapter):
        return client.completions.create(
            model=model, prompt="Once upon a time", max_tokens=24, temperature=1.0,
            top_p=0.9, seed=seed, extra_body={"ignore_eos": True},
        ).choices[0].text
    a = sampled(1234)
    check(a == sampled(1234), "the same seed gives the same text")
    check(a != sampled(99), "another seed gives another text")
    out["seeded"] = a

    # The same request alone and inside a burst of mixed adapters: the same text.
    def one(i):
        model = [args.model, args.adapter, args.other_adapter][i % 3]
        return client.completions.create(
            model=model, prompt="Once upon a time", max_tokens=24, temperature=1.0,
            top_p=0.9, seed=1234 if i == 0 else i, extra_body={"ignore_eos": True},
        ).choices[0].text
    alone = one(3)  # an adapter request (i % 3 == 0 is the base); run alone first
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        burst = list(pool.map(one, range(6)))
    check(burst[3] == alone, "batch composition does not change a request's output")

    # Stop strings: the text ends before the first occurrence.
    long = client.completions.create(
        model=args.model, prompt="abc", max_tokens=20, temperature=0,
        extra_body={"ignore_eos": True},
    ).choices[0].text
    if len(long) >= 6:
        stop = long[3:5]
        cut = client.completions.create(
            model=args.model, prompt="abc", max_tokens=20, temperature=0, stop=[stop],
            extra_body={"ignore_eos": True},
        ).choices[0]
        check(cut.text == long[: long.find(stop)], f"stop string cut: {cut.text!r} vs {long!r}")
        check(cut.finish_reason == "stop", "finish_reason stop")

    # Streaming completions: the chunks add up to the whole text; usage comes last.
    whole = client.completions.create(
        model=args.adapter, prompt="stream me", max_tokens=16, temperature=0,
        extra_body={"ignore_eos": True},
    ).choices[0].text
    pieces, usage, finish = [], None, None
    for chunk in client.completions.create(
        model=args.adapter, prompt="stream me", max_tokens=16, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body={"ignore_eos": True},
    ):
        if chunk.usage is not None:
            usage = chunk.usage
            check(chunk.choices == [], "the usage chunk has no choices")
        for c in chunk.choices:
            pieces.append(c.text)
            finish = c.finish_reason or finish
    check("".join(pieces) == whole, f"streamed text equals the whole: {''.join(pieces)!r} vs {whole!r}")
    check(usage is not None and usage.completion_tokens == 16, f"streamed usage: {usage}")
    check(finish == "length", "streamed finish_reason")

    # Chat, whole and streamed.
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}]
    r = client.chat.completions.create(
        model=args.adapter, messages=messages, max_tokens=10, temperature=0, logprobs=True,
        top_logprobs=3, extra_body={"ignore_eos": True},
    )
    check(r.object == "chat.completion", "object is chat.completion")
    msg = r.choices[0].message
    check(msg.role == "assistant", "the assistant answers")
    check(len(r.choices[0].logprobs.content) == 10, "chat logprobs per token")
    check(all(len(e.top_logprobs) == 3 for e in r.choices[0].logprobs.content), "top_logprobs")
    roles, content, chat_usage = [], [], None
    for chunk in client.chat.completions.create(
        model=args.adapter, messages=messages, max_tokens=10, temperature=0, stream=True,
        stream_options={"include_usage": True}, extra_body={"ignore_eos": True},
    ):
        if chunk.usage is not None:
            chat_usage = chunk.usage
        for c in chunk.choices:
            if c.delta.role:
                roles.append(c.delta.role)
            if c.delta.content:
                content.append(c.delta.content)
    check(roles == ["assistant"], f"the first delta carries the role: {roles}")
    check("".join(content) == msg.content, "streamed chat equals the whole")
    check(chat_usage is not None and chat_usage.completion_tokens == 10, "chat usage")
    out["chat"] = msg.content

    # Errors, in OpenAI's shape with the statuses the client maps to exceptions.
    expect_error(openai.NotFoundError, 404,
                 lambda: client.completions.create(model="no-such-adapter", prompt="x"),
                 "an unknown model")
    expect_error(openai.BadRequestError, 400,
                 lambda: client.completions.create(model=args.model, prompt="x", temperature=-1),
                 "a bad parameter")
    msg = expect_error(openai.BadRequestError, 400,
                       lambda: client.completions.create(
                           model=args.model, prompt="x" * (args.context + 10), max_tokens=4),
                       "a prompt longer than the context")
    check("maximum context length" in msg, f"the context error says why: {msg}")
    expect_error(openai.BadRequestError, 400,
                 lambda: client.chat.completions.create(model=args.model, messages=[]),
                 "empty messages")

    # A full queue answers 429 at once (the server runs with a tiny queue).
    def flood(i):
        try:
            client.completions.create(
                model=args.model, prompt="flood", max_tokens=400, temperature=0,
                extra_body={"ignore_eos": True},
            )
            return 200
        except openai.RateLimitError as e:
            return e.status_code
    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(flood, range(24)))
    check(429 in statuses, f"a full queue answers 429: {statuses}")
    check(200 in statuses, "the accepted requests still finish")
    out["flood"] = {"ok": statuses.count(200), "rate_limited": statuses.count(429)}

    print(json.dumps(out))


if __name__ == "__main__":
    main()
