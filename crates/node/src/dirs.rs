//! Default locations of the data directory.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
};

/// Name of the directory below the platform data directory that holds every chain.
pub const APP_DIR: &str = "openledger";
/// Chain directory name used by `--dev` when no `--datadir` is given.
pub const DEV_CHAIN_DIR: &str = "dev";
/// The database directory inside a data directory.
pub const DB_DIR: &str = "db";

/// The default data directory of `chain` (`dev`, or a chain id): `$XDG_DATA_HOME/openledger/<chain>`
/// when `XDG_DATA_HOME` is set to an absolute path, else `$HOME/.local/share/openledger/<chain>`.
/// `None` when neither variable is usable.
pub fn default_datadir(chain: &str) -> Option<PathBuf> {
    default_datadir_from(
        std::env::var_os("XDG_DATA_HOME").as_deref(),
        std::env::var_os("HOME").as_deref(),
        chain,
    )
}

/// [`default_datadir`] with the environment passed in (for tests).
pub fn default_datadir_from(
    xdg_data_home: Option<&OsStr>,
    home: Option<&OsStr>,
    chain: &str,
) -> Option<PathBuf> {
    // The XDG base directory spec says relative paths are invalid and must be ignored.
    let xdg = xdg_data_home
        .map(Path::new)
        .filter(|path| path.is_absolute());
    let base = match xdg {
        Some(xdg) => xdg.to_path_buf(),
        None => Path::new(home.filter(|home| !home.is_empty())?)
            .join(".local")
            .join("share"),
    };
    Some(base.join(APP_DIR).join(chain))
}

/// The database directory of a data directory.
pub fn db_path(datadir: &Path) -> PathBuf {
    datadir.join(DB_DIR)
}

/// Name of the built-in DA server's database under the data directory.
pub const DA_DIR: &str = "da";

/// The built-in DA server's database directory of a data directory.
pub fn da_path(datadir: &Path) -> PathBuf {
    datadir.join(DA_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_data_home_wins_when_absolute() {
        let dir = default_datadir_from(
            Some(OsStr::new("/data")),
            Some(OsStr::new("/home/op")),
            "dev",
        );
        assert_eq!(dir, Some(PathBuf::from("/data/openledger/dev")));
    }

    #[test]
    fn home_is_the_fallback() {
        let dir = default_datadir_from(None, Some(OsStr::new("/home/op")), "1611");
        assert_eq!(
            dir,
            Some(PathBuf::from("/home/op/.local/share/openledger/1611"))
        );
        let relative_xdg = default_datadir_from(
            Some(OsStr::new("data")),
            Some(OsStr::new("/home/op")),
            "dev",
        );
        assert_eq!(
            relative_xdg,
            Some(PathBuf::from("/home/op/.local/share/openledger/dev"))
        );
    }

    #[test]
    fn no_home_means_no_default() {
        assert_eq!(default_datadir_from(None, None, "dev"), None);
        assert_eq!(
            default_datadir_from(None, Some(OsStr::new("")), "dev"),
            None
        );
    }

    #[test]
    fn database_lives_in_db() {
        assert_eq!(db_path(Path::new("/x")), PathBuf::from("/x/db"));
    }
}
