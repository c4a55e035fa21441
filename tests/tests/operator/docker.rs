//! `docker/`, checked without a Docker engine: the compose file parses and resolves (Debian's
//! `docker-compose config`), the Dockerfile passes `hadolint`, and each container runs the
//! command `scripts/devnet.sh` runs, with the same flags (the devnet test runs those).

use eyre::{Result, ensure, eyre};
use ol_e2e::{repo_file, repo_root, run_command};
use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

#[tokio::test]
async fn the_compose_file_resolves() -> Result<()> {
    let compose = which("docker-compose").ok_or_else(|| {
        eyre!("docker-compose is not installed: run scripts/setup.sh (apt docker-compose)")
    })?;
    let file = repo_file("docker/docker-compose.yml")?;
    run_command(
        &compose,
        &[
            "-f".as_ref(),
            file.as_os_str(),
            "config".as_ref(),
            "-q".as_ref(),
        ],
        &repo_root(),
    )
    .await?
    .ensure_success()?;
    // Its services and the volumes they keep state in.
    let resolved = run_command(
        &compose,
        &[
            "-f".as_ref(),
            file.as_os_str(),
            "config".as_ref(),
            "--services".as_ref(),
        ],
        &repo_root(),
    )
    .await?
    .ensure_success()?;
    let services: BTreeSet<&str> = resolved.stdout.lines().collect();
    let expected = BTreeSet::from([
        "l1",
        "deploy",
        "da",
        "sequencer",
        "follower",
        "prometheus",
        "grafana",
    ]);
    ensure!(services == expected, "compose services: {services:?}");
    Ok(())
}

#[tokio::test]
async fn the_dockerfile_passes_hadolint() -> Result<()> {
    let hadolint = repo_file(".venv/bin/hadolint").map_err(|err| {
        err.wrap_err("hadolint is not installed: run scripts/setup.sh (tests/requirements.txt)")
    })?;
    let config = repo_file("docker/.hadolint.yaml")?;
    let dockerfile = repo_file("docker/Dockerfile")?;
    run_command(
        &hadolint,
        &[
            "--config".as_ref(),
            config.as_os_str(),
            dockerfile.as_os_str(),
        ],
        &repo_root(),
    )
    .await?
    .ensure_success()?;
    let text = std::fs::read_to_string(dockerfile)?;
    for needed in ["AS builder", "cargo chef cook", "USER 10001", "HEALTHCHECK"] {
        ensure!(text.contains(needed), "the Dockerfile has no {needed:?}");
    }
    Ok(())
}

/// Flags a container needs and the script does not: listening on every interface (the script
/// listens on 127.0.0.1), and anvil's state file and how often it is written (a container's L1
/// must survive a restart, since the deployment is kept in a volume).
const CONTAINER_ONLY: &[&str] = &[
    "--http.addr",
    "--ws.addr",
    "--da.addr",
    "--inference.addr",
    "--explorer.addr",
    "--host",
    "--state",
    "--state-interval",
];

#[test]
fn containers_run_the_devnet_scripts_commands() -> Result<()> {
    let script =
        commands_of_devnet_script(&std::fs::read_to_string(repo_file("scripts/devnet.sh")?)?);
    let compose = flags_of_compose_services(&std::fs::read_to_string(repo_file(
        "docker/docker-compose.yml",
    )?)?);
    let union = |roles: &[&str]| -> BTreeSet<String> {
        roles
            .iter()
            .flat_map(|role| script.get(*role).cloned().unwrap_or_default())
            .collect()
    };
    for (service, roles) in [
        ("l1", &["l1"][..]),
        ("deploy", &["deploy", "init", "corpus", "train"][..]),
        ("da", &["da"][..]),
        ("sequencer", &["sequencer"][..]),
        ("follower", &["follower"][..]),
    ] {
        let wanted = union(roles);
        ensure!(!wanted.is_empty(), "devnet.sh runs no {roles:?}");
        let got: BTreeSet<String> = compose
            .get(service)
            .ok_or_else(|| eyre!("the compose file has no {service} service"))?
            .iter()
            .filter(|flag| !CONTAINER_ONLY.contains(&flag.as_str()))
            .cloned()
            .collect();
        ensure!(
            got == wanted,
            "the {service} container's flags differ from devnet.sh's:\n  compose only: {:?}\n  \
             devnet.sh only: {:?}",
            got.difference(&wanted).collect::<Vec<_>>(),
            wanted.difference(&got).collect::<Vec<_>>()
        );
    }
    Ok(())
}

/// The flags of each process `scripts/devnet.sh` starts, by role.
fn commands_of_devnet_script(text: &str) -> BTreeMap<&'static str, BTreeSet<String>> {
    let joined = text.replace("\\\n", " ");
    let mut roles: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    for line in joined.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let program = words
            .iter()
            .position(|w| w.contains("\"$bin\"") || w.contains("\"$anvil\""));
        let Some(at) = program else { continue };
        let rest = &words[at + 1..];
        let role = if words[at].contains("$anvil") {
            "l1"
        } else {
            match rest {
                ["l1", "deploy", ..] => "deploy",
                ["init", ..] => "init",
                ["factory", "corpus", ..] => "corpus",
                ["factory", "train", ..] => "train",
                ["da", "serve", ..] => "da",
                ["node", ..] if rest.contains(&"--follow") => "follower",
                ["node", ..] => "sequencer",
                _ => continue,
            }
        };
        roles.entry(role).or_default().extend(flags(rest));
    }
    roles
}

/// The flags of each service's `command` in the compose file (not its health check).
fn flags_of_compose_services(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut services: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_services = false;
    let mut in_command = false;
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            in_services = line == "services:";
            current = None;
            continue;
        }
        if !in_services {
            continue;
        }
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !name.starts_with(' ')
        {
            current = Some(name.to_owned());
            in_command = false;
            continue;
        }
        // A service's own keys are indented by four spaces; its command's lines by more.
        if let Some(key) = line.strip_prefix("    ")
            && !key.starts_with(' ')
        {
            in_command = key.starts_with("command:");
        }
        if let (Some(service), true) = (&current, in_command) {
            let words: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[' || c == ']')
                .collect();
            services
                .entry(service.clone())
                .or_default()
                .extend(flags(&words));
        }
    }
    services
}

/// The `--flag` names among `words` (`--flag=value` gives `--flag`).
fn flags(words: &[&str]) -> Vec<String> {
    words
        .iter()
        .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.split('=').next().unwrap_or(w).to_owned())
        .collect()
}

/// `program` on `PATH`.
fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| Path::new(path).is_file())
}
