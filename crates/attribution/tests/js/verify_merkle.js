// Verifies evidence trees produced by ol-attribution with OpenZeppelin's npm library.
//
// usage: node verify_merkle.js <repo root> <input.json>
// input: { root, dump (standard-v1), proofs: [{ value: [bytes32, address, uint256], proof: [bytes32...] }] }
'use strict';
const fs = require('fs');
const path = require('path');

const [repoRoot, inputPath] = process.argv.slice(2);
const { StandardMerkleTree } = require(path.join(repoRoot, 'node_modules', '@openzeppelin', 'merkle-tree'));
const input = JSON.parse(fs.readFileSync(inputPath, 'utf8'));
const encoding = ['bytes32', 'address', 'uint256'];

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

// 1. The dump loads (load() re-hashes every value and checks every node).
const loaded = StandardMerkleTree.load(input.dump);
if (loaded.root !== input.root) fail(`loaded root ${loaded.root} != ${input.root}`);

// 2. Building a tree from the same values gives the same root.
const rebuilt = StandardMerkleTree.of(input.dump.values.map((v) => v.value), encoding);
if (rebuilt.root !== input.root) fail(`rebuilt root ${rebuilt.root} != ${input.root}`);

// 3. Every proof from Rust verifies, and equals the library's own proof.
for (const { value, proof } of input.proofs) {
  if (!StandardMerkleTree.verify(input.root, encoding, value, proof)) fail(`proof of ${value} does not verify`);
  const own = rebuilt.getProof(value);
  if (JSON.stringify(own) !== JSON.stringify(proof)) fail(`proof of ${value} differs from the library's`);
}

// 4. A forged score does not verify.
const [first] = input.proofs;
const forged = [first.value[0], first.value[1], (BigInt(first.value[2]) + 1n).toString()];
if (first.proof.length > 0 && StandardMerkleTree.verify(input.root, encoding, forged, first.proof)) fail('forged leaf verified');

console.log(`ok ${input.proofs.length}`);
