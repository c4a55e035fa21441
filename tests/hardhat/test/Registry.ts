// Runs with `hardhat test nodejs --network openledger`: deploys through hardhat-ethers, sends
// transactions, queries an indexed event and decodes both kinds of revert the node returns.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";

describe("Registry on the OpenLedger node", async () => {
  const { ethers } = await network.getOrCreate();
  const [owner] = await ethers.getSigners();

  it("deploys, registers and finds the event", async () => {
    const registry = await ethers.deployContract("Registry");
    await registry.waitForDeployment();
    const receipt = await (await registry.register("alice")).wait();
    assert.equal(receipt?.status, 1);
    assert.equal(await registry.names(owner.address), "alice");
    const events = await registry.queryFilter(registry.filters.Registered(owner.address));
    assert.equal(events.length, 1);
    assert.equal(events[0].args.name, "alice");
    console.log(`registered alice in block ${receipt?.blockNumber} at ${await registry.getAddress()}`);
  });

  it("decodes a string revert and a custom error", async () => {
    const registry = await ethers.deployContract("Registry");
    await registry.waitForDeployment();
    await assert.rejects(registry.register(""), /empty name/);
    await (await registry.register("bob")).wait();
    // Hardhat's provider hands the node's revert data through as `data`, which the contract's
    // interface decodes: the custom error with its arguments.
    await assert.rejects(registry.register.staticCall("bob"), (error: any) => {
      const decoded = registry.interface.parseError(error.data);
      assert.equal(decoded?.name, "Taken");
      assert.equal(decoded?.args[0], "bob");
      assert.equal(decoded?.args[1], owner.address);
      return true;
    });
  });
});
