// A script's round trip through ethers v6 against a running node: deploy the EventEmitter
// contract with a ContractFactory, store values, query its events with indexed-argument
// filters (contract.queryFilter and provider.getLogs), decode a custom-error revert, estimate
// and send a plain transfer.
//
//   node tests/ethers/dapp.mjs --http http://127.0.0.1:8545 --key 0x...
//
// Prints one line per step and, last, one JSON line `{"ok":true,...}` for the caller to check.
// Exits 1 on any mismatch or error, 2 when it runs out of time.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ContractFactory, JsonRpcProvider, Wallet, isError } from "ethers";

const DEADLINE_MS = 90_000;
const STORED = [5n, 6n, 7n];
const TRANSFER_WEI = 987_654_321n;
const REFUSED_CODE = 41n;
// The dev chain makes a block a second: poll more often than ethers' default 4 s.
const POLLING_MS = 250;

const { values: args } = parseArgs({
  options: {
    http: { type: "string" },
    key: { type: "string" },
    artifact: { type: "string", default: new URL("../../contracts/artifacts/EventEmitter.json", import.meta.url).pathname },
  },
});
for (const name of ["http", "key"]) {
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

async function main() {
  const { abi, bytecode } = JSON.parse(readFileSync(args.artifact, "utf8"));
  const provider = new JsonRpcProvider(args.http, undefined, { polling: true, pollingInterval: POLLING_MS });
  provider.pollingInterval = POLLING_MS;
  const wallet = new Wallet(args.key, provider);
  const { chainId } = await provider.getNetwork();
  console.log(`chain ${chainId}, account ${wallet.address}`);

  // --- deploy ---------------------------------------------------------------------------------
  const factory = new ContractFactory(abi, bytecode, wallet);
  const contract = await factory.deploy();
  const deployment = await contract.deploymentTransaction().wait();
  check(deployment.status === 1, `deployment status ${deployment.status}`);
  const address = await contract.getAddress();
  check(deployment.contractAddress === address, "receipt contractAddress");
  check((await provider.getCode(address)).length > 2, "code at the deployed address");
  console.log(`deployed EventEmitter at ${address} in block ${deployment.blockNumber}`);

  // --- transactions and event filters ---------------------------------------------------------
  const blocks = [];
  for (const value of STORED) {
    const receipt = await (await contract.store(value)).wait();
    check(receipt.status === 1, `store(${value}) status ${receipt.status}`);
    blocks.push(receipt.blockNumber);
  }
  check((await contract.value()) === STORED.at(-1), "value() after the stores");
  const all = await contract.queryFilter(contract.filters.ValueChanged(), deployment.blockNumber, "latest");
  check(all.length === STORED.length, `queryFilter found ${all.length} events`);
  all.forEach((event, i) => {
    check(event.args.newValue === STORED[i], `event ${i} newValue ${event.args.newValue}`);
    check(event.args.by === wallet.address, `event ${i} by ${event.args.by}`);
  });
  // Indexed-argument filter: only the store whose old value was the first stored value.
  const second = await contract.queryFilter(contract.filters.ValueChanged(null, STORED[0]), deployment.blockNumber);
  check(second.length === 1 && second[0].args.newValue === STORED[1], `filtered query found ${second.length}`);
  const raw = await provider.getLogs({
    address,
    topics: [contract.interface.getEvent("ValueChanged").topicHash],
    fromBlock: blocks[0],
    toBlock: blocks.at(-1),
  });
  check(raw.length === STORED.length, `getLogs found ${raw.length}`);
  console.log(`queried ${all.length} events (1 through the indexed filter)`);

  // --- a custom-error revert, decoded ----------------------------------------------------------
  try {
    await contract.fail.staticCall(REFUSED_CODE);
    throw new Error("mismatch: fail() did not revert");
  } catch (error) {
    check(isError(error, "CALL_EXCEPTION"), `fail() error code ${error.code}: ${error.message}`);
    check(error.revert?.name === "Refused", `revert name ${error.revert?.name}`);
    check(error.revert?.args?.[0] === REFUSED_CODE, `revert argument ${error.revert?.args?.[0]}`);
  }
  console.log(`fail() reverted with Refused(${REFUSED_CODE})`);

  // --- a plain transfer ------------------------------------------------------------------------
  const recipient = Wallet.createRandom().address;
  const estimate = await provider.estimateGas({ from: wallet.address, to: recipient, value: TRANSFER_WEI });
  check(estimate === 21_000n, `a plain transfer is estimated at ${estimate}`);
  const sent = await wallet.sendTransaction({ to: recipient, value: TRANSFER_WEI });
  const receipt = await sent.wait();
  check(receipt.status === 1, "transfer status");
  check((await provider.getBalance(recipient)) === TRANSFER_WEI, "recipient balance");
  console.log(`transferred ${TRANSFER_WEI} wei to ${recipient}`);

  console.log(JSON.stringify({ ok: true, chainId: Number(chainId), address, blocks, transfer: sent.hash }));
  provider.destroy();
}

main()
  .then(() => {
    clearTimeout(watchdog);
    process.exit(0);
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
