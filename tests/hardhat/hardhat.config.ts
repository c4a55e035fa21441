// Hardhat 3 configured as a developer would for a remote chain: the node is an HTTP network of
// the OP chain type, with the deployer key from the environment. The compiler is the pinned
// solc-js of this project, given by path, because these machines cannot download solc builds.
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import { defineConfig } from "hardhat/config";
import { fileURLToPath } from "node:url";

const rpcUrl = process.env.OPENLEDGER_RPC_URL ?? "http://127.0.0.1:8545";
const deployerKey = process.env.DEPLOYER_KEY;

export default defineConfig({
  plugins: [hardhatEthers, hardhatNodeTestRunner],
  solidity: {
    version: "0.8.30",
    path: fileURLToPath(new URL("./node_modules/solc/soljson.js", import.meta.url)),
  },
  networks: {
    openledger: {
      type: "http",
      chainType: "op",
      url: rpcUrl,
      accounts: deployerKey === undefined ? [] : [deployerKey],
    },
  },
});
