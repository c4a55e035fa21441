//! The p2p network of unsafe blocks, with op-node's flag names.

use alloy_primitives::{Address, B256};
use ol_p2p::network::Multiaddr;
use std::{net::IpAddr, path::PathBuf};

/// Unsafe-block gossip (op-node's `--p2p.*` flags).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "P2P")]
pub struct P2pArgs {
    /// Run without the p2p network: a follower then knows only what it derives from L1
    #[arg(long = "p2p.disable")]
    pub disable: bool,

    /// IP address to listen on
    #[arg(long = "p2p.listen.ip", value_name = "IP", default_value = "0.0.0.0")]
    pub listen_ip: IpAddr,

    /// TCP port to listen on (0 picks a free one)
    #[arg(long = "p2p.listen.tcp", value_name = "PORT", default_value_t = 9222)]
    pub listen_tcp: u16,

    /// Peers to stay connected to, comma-separated multiaddrs ending in /p2p/<peer id>
    /// (`/ip4/10.0.0.2/tcp/9222/p2p/16Uiu2...`); the node logs its own at start
    #[arg(
        long = "p2p.static",
        value_name = "MULTIADDRS",
        value_delimiter = ',',
        verbatim_doc_comment
    )]
    pub static_peers: Vec<Multiaddr>,

    /// Most peers besides the static ones; connections past it are refused (op-node's flag)
    #[arg(long = "p2p.peers.hi", value_name = "PEERS", default_value_t = 30)]
    pub peers_hi: u32,

    /// File with this node's secp256k1 p2p key (hex), created when missing [default:
    /// <datadir>/p2p/opnode_p2p_priv.txt]
    #[arg(long = "p2p.priv.path", value_name = "PATH")]
    pub priv_path: Option<PathBuf>,

    /// Key (hex) the sequencer signs its unsafe blocks with; its address must be the unsafe
    /// block signer of L1's SystemConfig
    #[arg(
        long = "p2p.sequencer.key",
        value_name = "HEX",
        env = "OPENLEDGER_P2P_SEQUENCER_KEY",
        hide_env_values = true,
        conflicts_with = "follow"
    )]
    pub sequencer_key: Option<B256>,

    /// File holding the sequencer's signing key (hex), instead of `--p2p.sequencer.key` (kona's
    /// flag; a secret mounted into a container)
    #[arg(
        long = "p2p.sequencer.key.path",
        value_name = "PATH",
        conflicts_with_all = ["sequencer_key", "follow"]
    )]
    pub sequencer_key_path: Option<PathBuf>,

    /// The address whose signature gossiped blocks need, instead of SystemConfig's
    /// `unsafeBlockSigner` on L1 (kona's flag)
    #[arg(long = "p2p.unsafe.block.signer", value_name = "ADDRESS")]
    pub unsafe_block_signer: Option<Address>,
}

impl Default for P2pArgs {
    fn default() -> Self {
        Self {
            disable: false,
            listen_ip: IpAddr::from([0, 0, 0, 0]),
            listen_tcp: 9222,
            static_peers: Vec::new(),
            peers_hi: 30,
            priv_path: None,
            sequencer_key: None,
            sequencer_key_path: None,
            unsafe_block_signer: None,
        }
    }
}

impl P2pArgs {
    /// The listen multiaddr.
    pub fn listen_addr(&self) -> Multiaddr {
        let ip = match self.listen_ip {
            IpAddr::V4(ip) => ol_p2p::network::Protocol::Ip4(ip),
            IpAddr::V6(ip) => ol_p2p::network::Protocol::Ip6(ip),
        };
        Multiaddr::empty()
            .with(ip)
            .with(ol_p2p::network::Protocol::Tcp(self.listen_tcp))
    }
}
