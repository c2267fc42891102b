//! Backup and restore of the embedded store: one SQLite file.
//!
//! A backup is `VACUUM INTO` from a read-only connection of its own: one
//! read transaction, so the copy is the store as of one commit, taken while
//! the service keeps writing (in WAL mode a reader blocks no writer). It is
//! written beside its destination, checked (`integrity_check`), synced and
//! only then renamed into place: a backup that exists is whole.
//!
//! A restore brings such a copy into a data directory that holds no store,
//! after the same check and a schema version this release can open; the
//! service upgrades an older one when it opens it.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use rusqlite::{Connection, OpenFlags};

use super::embedded::{DB_FILE, SCHEMA_VERSION};

/// What a backup or a restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Stored items (cards, their history, members, settings…).
    pub items: i64,
    pub bytes: u64,
    pub took: Duration,
}

/// Why a backup or a restore did nothing.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no store in {0}: is ASTRO_DATA_DIR the service's data directory?")]
    NoStore(PathBuf),
    #[error("{0} exists: a backup never overwrites a file; choose a new name")]
    Exists(PathBuf),
    #[error(
        "{0} already holds a store: restore only into an empty data directory (stop the service, move the directory away, then restore)"
    )]
    NotEmpty(PathBuf),
    #[error("{path} is not a backup of this service: {why}")]
    NotABackup { path: PathBuf, why: String },
    #[error("{0}")]
    Io(String),
}

fn io(what: &str, path: &Path, e: impl std::fmt::Display) -> BackupError {
    BackupError::Io(format!("{what} {}: {e}", path.display()))
}

/// Copies the store in `data_dir` to the new file `to`, while the service
/// may be running.
pub fn backup(data_dir: &Path, to: &Path) -> Result<Copied, BackupError> {
    let started = Instant::now();
    let source = data_dir.join(DB_FILE);
    if !source.exists() {
        return Err(BackupError::NoStore(data_dir.to_owned()));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    let partial = partial_path(to);
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| io("opening", &source, e))?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(|e| io("opening", &source, e))?;
        let target = partial.to_str().ok_or_else(|| io("naming", &partial, "not UTF-8"))?;
        conn.execute("VACUUM INTO ?1", [target]).map_err(|e| io("copying into", &partial, e))?;
        let items = check(&partial)?;
        sync_file(&partial)?;
        std::fs::rename(&partial, to).map_err(|e| io("renaming into", to, e))?;
        sync_parent(to)?;
        let bytes = std::fs::metadata(to).map_err(|e| io("reading", to, e))?.len();
        Ok(Copied { items, bytes, took: started.elapsed() })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Brings the backup `from` into `data_dir` (created if missing), which
/// must hold no store.
pub fn restore(from: &Path, data_dir: &Path) -> Result<Copied, BackupError> {
    let started = Instant::now();
    let items = check(from)?;
    std::fs::create_dir_all(data_dir).map_err(|e| io("creating", data_dir, e))?;
    let target = data_dir.join(DB_FILE);
    let leftovers =
        ["", "-wal", "-shm", "-journal"].map(|suffix| PathBuf::from(format!("{}{suffix}", target.display())));
    if leftovers.iter().any(|f| f.exists()) {
        return Err(BackupError::NotEmpty(data_dir.to_owned()));
    }
    let partial = partial_path(&target);
    let result = (|| {
        std::fs::copy(from, &partial).map_err(|e| io("copying into", &partial, e))?;
        sync_file(&partial)?;
        std::fs::rename(&partial, &target).map_err(|e| io("renaming into", &target, e))?;
        sync_parent(&target)?;
        let bytes = std::fs::metadata(&target).map_err(|e| io("reading", &target, e))?.len();
        Ok(Copied { items, bytes, took: started.elapsed() })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Checks that `path` is a whole store this release can open; its items.
fn check(path: &Path) -> Result<i64, BackupError> {
    let not_a_backup = |why: String| BackupError::NotABackup { path: path.to_owned(), why };
    if !path.is_file() {
        return Err(not_a_backup("no such file".into()));
    }
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|e| not_a_backup(e.to_string()))?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| not_a_backup(format!("not a SQLite database ({e})")))?;
    if integrity != "ok" {
        return Err(not_a_backup(format!("integrity_check: {integrity}")));
    }
    let version: i64 =
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| not_a_backup(e.to_string()))?;
    if !(1..=SCHEMA_VERSION).contains(&version) {
        return Err(not_a_backup(format!(
            "schema version {version}; this release reads 1 to {SCHEMA_VERSION} (a newer release made it?)"
        )));
    }
    conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0)).map_err(|e| not_a_backup(e.to_string()))
}

/// Where a copy is written before it is renamed into place.
fn partial_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", path.display()))
}

fn sync_file(path: &Path) -> Result<(), BackupError> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(|e| io("syncing", path, e))
}

/// Makes a rename durable: the directory's entry is synced too.
fn sync_parent(path: &Path) -> Result<(), BackupError> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(|e| io("syncing", parent, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, embedded::EmbeddedStore};

    #[tokio::test]
    async fn a_backup_restores_into_an_empty_directory_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = EmbeddedStore::open(&data).unwrap();
        let user = astro_proto::v1::User { email: "ada@example.com".into(), ..Default::default() };
        store.create_user(user.clone()).await.unwrap();

        let copy = dir.path().join("copy.sqlite3");
        let made = backup(&data, &copy).unwrap();
        assert_eq!(made.items, 1);
        assert!(matches!(backup(&data, &copy), Err(BackupError::Exists(_))), "never overwrites");
        assert!(matches!(backup(&dir.path().join("none"), &dir.path().join("x")), Err(BackupError::NoStore(_))));

        assert!(matches!(restore(&copy, &data), Err(BackupError::NotEmpty(_))), "never over a store");
        let elsewhere = dir.path().join("restored");
        assert_eq!(restore(&copy, &elsewhere).unwrap().items, 1);
        let restored = EmbeddedStore::open(&elsewhere).unwrap();
        assert_eq!(restored.get_user("ada@example.com").await.unwrap().unwrap().email, user.email);

        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"not a database at all, just text").unwrap();
        let refused = restore(&junk, &dir.path().join("other")).unwrap_err();
        assert!(matches!(refused, BackupError::NotABackup { .. }), "{refused}");
        assert!(!dir.path().join("other").join(DB_FILE).exists());
    }
}
