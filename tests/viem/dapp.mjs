// A dApp's round trip through viem against a running node, as a wallet-connected web page
// would do it: deploy the EventEmitter contract, send transactions, wait for receipts, read
// state, decode a custom-error revert, and watch the contract's events through a WebSocket
// subscription (eth_subscribe "logs"), which must deliver exactly the events emitted.
//
//   node tests/viem/dapp.mjs --http http://127.0.0.1:8545 --ws ws://127.0.0.1:8546 --key 0x...
//
// Prints one line per step and, last, one JSON line `{"ok":true,...}` for the caller to check.
// Exits 1 on any mismatch or error, 2 when it runs out of time.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseEventLogs,
  webSocket,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

const DEADLINE_MS = 90_000;
const EVENT_WAIT_MS = 30_000;
// The subscription must be in place before the first transaction: viem subscribes in the
// background, with no signal when it is done.
const SUBSCRIBE_SETTLE_MS = 1_500;
// After the last expected event, how long to keep listening for unexpected ones.
const QUIET_MS = 1_500;
const STORED = [11n, 22n, 33n];
const TRANSFER_WEI = 123_456_789n;
const REFUSED_CODE = 77n;
// The dev chain makes a block a second: poll receipts more often than viem's default 4 s.
const POLLING_MS = 250;

const { values: args } = parseArgs({
  options: {
    http: { type: "string" },
    ws: { type: "string" },
    key: { type: "string" },
    artifact: { type: "string", default: new URL("../../contracts/artifacts/EventEmitter.json", import.meta.url).pathname },
  },
});
for (const name of ["http", "ws", "key"]) {
  if (!args[name]) {
    console.error(`missing --${name}`);
    process.exit(1);
  }
}

const watchdog = setTimeout(() => {
  console.error(`timed out after ${DEADLINE_MS} ms`);
  process.exit(2);
}, DEADLINE_MS);

function check(condition, message) {
  if (!condition) throw new Error(`mismatch: ${message}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `predicate()` holds, polling every 50 ms, or rejects after `ms`. */
async function until(predicate, ms, what) {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function main() {
  const artifact = JSON.parse(readFileSync(args.artifact, "utf8"));
  const { abi } = artifact;
  const bytecode = typeof artifact.bytecode === "string" ? artifact.bytecode : artifact.bytecode.object;
  const deployedBytecode =
    typeof artifact.deployedBytecode === "string" ? artifact.deployedBytecode : artifact.deployedBytecode.object;

  const probe = createPublicClient({ transport: http(args.http) });
  const chainId = await probe.getChainId();
  const chain = defineChain({
    id: chainId,
    name: "OpenLedger dev",
    nativeCurrency: { name: "OPEN", symbol: "OPEN", decimals: 18 },
    rpcUrls: { default: { http: [args.http], webSocket: [args.ws] } },
  });
  const account = privateKeyToAccount(args.key);
  const client = createPublicClient({ chain, transport: http(args.http), pollingInterval: POLLING_MS });
  const wallet = createWalletClient({ account, chain, transport: http(args.http), pollingInterval: POLLING_MS });
  const ws = createPublicClient({ chain, transport: webSocket(args.ws) });
  console.log(`chain ${chainId}, account ${account.address}`);

  // Same chain over both transports.
  check((await ws.getChainId()) === chainId, "eth_chainId over WebSocket");

  // --- deploy ---------------------------------------------------------------------------------
  const deployHash = await wallet.deployContract({ abi, bytecode });
  const deployed = await client.waitForTransactionReceipt({ hash: deployHash });
  check(deployed.status === "success", `deployment status ${deployed.status}`);
  const address = deployed.contractAddress;
  check(address, "deployment receipt without contractAddress");
  const code = await client.getCode({ address });
  check(code?.toLowerCase() === deployedBytecode.toLowerCase(), "deployed code is the artifact's runtime code");
  console.log(`deployed EventEmitter at ${address} in block ${deployed.blockNumber}`);

  // --- subscribe ------------------------------------------------------------------------------
  const seen = [];
  const seenFiltered = [];
  const errors = [];
  const unwatchAll = ws.watchContractEvent({
    address,
    abi,
    eventName: "ValueChanged",
    onLogs: (logs) => seen.push(...logs),
    onError: (error) => errors.push(error),
  });
  // Indexed-argument filter: only the store whose old value was the first stored value.
  const unwatchFiltered = ws.watchContractEvent({
    address,
    abi,
    eventName: "ValueChanged",
    args: { oldValue: STORED[0] },
    onLogs: (logs) => seenFiltered.push(...logs),
    onError: (error) => errors.push(error),
  });
  await sleep(SUBSCRIBE_SETTLE_MS);

  // --- transactions ---------------------------------------------------------------------------
  const hashes = [];
  for (const value of STORED) {
    hashes.push(await wallet.writeContract({ address, abi, functionName: "store", args: [value] }));
  }
  const receipts = [];
  for (const hash of hashes) {
    const receipt = await client.waitForTransactionReceipt({ hash });
    check(receipt.status === "success", `store receipt ${hash} status ${receipt.status}`);
    receipts.push(receipt);
  }
  const emitted = receipts.flatMap((receipt) => parseEventLogs({ abi, logs: receipt.logs, eventName: "ValueChanged" }));
  check(emitted.length === STORED.length, `receipts hold ${emitted.length} ValueChanged logs`);
  STORED.forEach((value, i) => {
    const { by, oldValue, newValue } = emitted[i].args;
    check(by.toLowerCase() === account.address.toLowerCase(), `log ${i} by ${by}`);
    check(oldValue === (i === 0 ? 0n : STORED[i - 1]), `log ${i} oldValue ${oldValue}`);
    check(newValue === value, `log ${i} newValue ${newValue}`);
  });
  console.log(`stored ${STORED.join(", ")} in blocks ${receipts.map((r) => r.blockNumber).join(", ")}`);

  const stored = await client.readContract({ address, abi, functionName: "value" });
  check(stored === STORED.at(-1), `value() is ${stored}`);

  // A custom-error revert, decoded from eth_call's revert data.
  try {
    await client.simulateContract({ account, address, abi, functionName: "fail", args: [REFUSED_CODE] });
    throw new Error("mismatch: fail() did not revert");
  } catch (error) {
    const reverted = error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionRevertedError);
    check(reverted, `fail() error is not a contract revert: ${error.message}`);
    check(reverted.data?.errorName === "Refused", `revert error name ${reverted.data?.errorName}`);
    check(reverted.data?.args?.[0] === REFUSED_CODE, `revert argument ${reverted.data?.args?.[0]}`);
  }
  console.log("fail() reverted with Refused(77)");

  // A plain value transfer.
  const recipient = privateKeyToAccount(`0x${"42".repeat(32)}`).address;
  const before = await client.getBalance({ address: recipient });
  const transfer = await wallet.sendTransaction({ to: recipient, value: TRANSFER_WEI });
  const transferReceipt = await client.waitForTransactionReceipt({ hash: transfer });
  check(transferReceipt.status === "success", "transfer status");
  const after = await client.getBalance({ address: recipient });
  check(after - before === TRANSFER_WEI, `recipient received ${after - before} wei`);
  console.log(`transferred ${TRANSFER_WEI} wei to ${recipient}`);

  // --- events over the subscription ------------------------------------------------------------
  await until(() => seen.length >= STORED.length || errors.length > 0, EVENT_WAIT_MS, "the subscribed events");
  await sleep(QUIET_MS);
  check(errors.length === 0, `subscription errors: ${errors.map((e) => e.message).join("; ")}`);
  check(seen.length === STORED.length, `subscription delivered ${seen.length} events, expected ${STORED.length}`);
  seen.forEach((log, i) => {
    const expected = emitted[i];
    check(log.transactionHash === expected.transactionHash, `event ${i} transaction ${log.transactionHash}`);
    check(log.logIndex === expected.logIndex, `event ${i} log index ${log.logIndex}`);
    check(log.blockHash === expected.blockHash, `event ${i} block hash`);
    check(log.address.toLowerCase() === address.toLowerCase(), `event ${i} address`);
    check(log.eventName === "ValueChanged", `event ${i} name ${log.eventName}`);
    check(log.args.newValue === STORED[i], `event ${i} newValue ${log.args.newValue}`);
    check(log.args.oldValue === expected.args.oldValue, `event ${i} oldValue ${log.args.oldValue}`);
    check(log.removed === false, `event ${i} removed`);
  });
  check(seenFiltered.length === 1, `filtered subscription delivered ${seenFiltered.length} events, expected 1`);
  check(seenFiltered[0].transactionHash === hashes[1], "filtered event is the second store");
  console.log(`subscription delivered ${seen.length} events (${seenFiltered.length} through the filtered one)`);

  unwatchAll();
  unwatchFiltered();
  console.log(
    JSON.stringify({
      ok: true,
      chainId,
      contract: address,
      stores: hashes,
      events: seen.map((log) => ({ tx: log.transactionHash, newValue: log.args.newValue.toString() })),
      filteredEvents: seenFiltered.length,
      value: stored.toString(),
    }),
  );
}

main().then(
  () => {
    clearTimeout(watchdog);
    // The WebSocket transport keeps the event loop alive.
    process.exit(0);
  },
  (error) => {
    console.error(error instanceof BaseError ? error.message : error);
    process.exit(1);
  },
);
