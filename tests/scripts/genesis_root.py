#!/usr/bin/env python3
"""Independent genesis state-root computation for the OpenLedger end-to-end tests.

Reads a go-ethereum style genesis JSON file, builds the secure state trie of its
``alloc`` with py-trie's ``HexaryTrie`` (an implementation that shares no code
with the node) and prints the state root as ``0x``-prefixed hex.

Usage:
    genesis_root.py GENESIS.json           # prints the state root
    genesis_root.py --json GENESIS.json    # prints {"stateRoot", "accounts": {addr: {storageRoot, codeHash}}}

The ``--json`` output has the same shape as ``openledger genesis inspect`` so the
tests can point at the first account that differs.

Encoding (Yellow Paper, as go-ethereum commits a genesis):
  * state trie key   = keccak256(20-byte address)
  * state trie value = rlp([nonce, balance, storageRoot, codeHash])
  * storage key      = keccak256(32-byte big-endian slot)
  * storage value    = rlp(big-endian integer without leading zero bytes); zero slots are omitted
  * every alloc entry is an account in the trie, even an empty one (go-ethereum keeps
    empty genesis accounts).

Requires the PyPI packages listed in tests/requirements.txt (trie, rlp, eth-hash[pycryptodome]).
"""

import argparse
import json
import sys

import rlp
from eth_hash.auto import keccak
from trie import HexaryTrie

EMPTY_CODE_HASH = keccak(b"")
EMPTY_TRIE_ROOT = HexaryTrie({}).root_hash


def parse_quantity(value, what):
    """A geth quantity: JSON number, "0x"-hex string or decimal string."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"{what}: booleans are not quantities: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower().startswith("0x"):
            digits = text[2:]
            return int(digits, 16) if digits else 0
        if text == "":
            return 0
        return int(text, 10)
    raise ValueError(f"{what}: unsupported quantity {value!r}")


def parse_bytes(value, what):
    """Hex data with or without 0x; null/empty means no bytes."""
    if value is None:
        return b""
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected a hex string, got {value!r}")
    text = value.strip()
    if text.lower().startswith("0x"):
        text = text[2:]
    if len(text) % 2:
        text = "0" + text
    return bytes.fromhex(text)


def parse_word(value, what):
    """A 32-byte storage key or value: hex (with or without 0x, up to 32 bytes, left-padded) or a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if text.lower().startswith("0x"):
            text = text[2:]
        number = int(text, 16) if text else 0
    else:
        raise ValueError(f"{what}: expected hex, got {value!r}")
    if number < 0 or number >= 1 << 256:
        raise ValueError(f"{what}: does not fit in 32 bytes: {value!r}")
    return number


def parse_address(key):
    text = key.strip()
    if text.lower().startswith("0x"):
        text = text[2:]
    raw = bytes.fromhex(text)
    if len(raw) != 20:
        raise ValueError(f"alloc key {key!r} is not a 20-byte address")
    return raw


def storage_root(storage, what):
    trie = HexaryTrie({})
    for slot_text, value_text in (storage or {}).items():
        slot = parse_word(slot_text, f"{what} storage key {slot_text}")
        value = parse_word(value_text, f"{what} storage[{slot_text}]")
        if value == 0:
            continue
        key = keccak(slot.to_bytes(32, "big"))
        trie.set(key, rlp.encode(value))  # rlp of an int is the minimal big-endian encoding
    return trie.root_hash


def compute(genesis):
    alloc = genesis.get("alloc")
    if alloc is None:
        raise ValueError("genesis has no 'alloc' object")
    state = HexaryTrie({})
    accounts = {}
    for key, account in alloc.items():
        address = parse_address(key)
        what = "0x" + address.hex()
        nonce = parse_quantity(account.get("nonce"), f"{what} nonce")
        balance = parse_quantity(account.get("balance"), f"{what} balance")
        code = parse_bytes(account.get("code"), f"{what} code")
        code_hash = keccak(code)
        root = storage_root(account.get("storage"), what)
        state.set(keccak(address), rlp.encode([nonce, balance, root, code_hash]))
        accounts[what] = {"storageRoot": "0x" + root.hex(), "codeHash": "0x" + code_hash.hex()}
    return state.root_hash, accounts


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("genesis", help="path of a go-ethereum style genesis JSON file")
    parser.add_argument("--json", action="store_true", help="print per-account roots as JSON too")
    args = parser.parse_args(argv)
    with open(args.genesis, encoding="utf-8") as handle:
        genesis = json.load(handle)
    root, accounts = compute(genesis)
    if args.json:
        print(json.dumps({"stateRoot": "0x" + root.hex(), "accounts": accounts}, indent=2, sort_keys=True))
    else:
        print("0x" + root.hex())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
