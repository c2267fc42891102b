//! A SQLite VFS that writes each commit's write-ahead log in one call.
//!
//! SQLite writes a log frame as two `pwrite`s (its 24-byte header, then the
//! page), so a commit of 16 pages costs 32 system calls before its `fsync`.
//! This shim over the platform VFS keeps the log's consecutive writes in a
//! buffer and hands them to the real file in one write when SQLite syncs the
//! log (or reads it, sizes it, truncates it, closes it, or writes elsewhere
//! in it). Every other file (the database, its shared memory) is the
//! platform VFS's own file object, untouched.
//!
//! Durability is unchanged: a commit is acknowledged after `xSync` returns,
//! and `xSync` writes the buffer before it syncs. Other connections never
//! see the buffered bytes' absence: with `synchronous=FULL` SQLite publishes
//! new frames in the shared index only after the log is synced, which is
//! why [`open`] is the only way to use it and sets that mode.

use std::{
    ffi::{CStr, c_char, c_int, c_void},
    path::Path,
    sync::OnceLock,
};

use rusqlite::{Connection, OpenFlags, ffi};

const NAME: &CStr = c"astro-wal";
/// Buffered bytes at most: the largest write the unix VFS takes (it masks a
/// write's length to 17 bits), 31 frames of 4 KiB pages; a bigger commit is
/// written in pieces of at most this size.
const CAPACITY: usize = 0x1ffff;

/// The platform VFS this one wraps, once registered.
struct Registered(*mut ffi::sqlite3_vfs);
// SAFETY: the pointer is to SQLite's static default VFS, never freed.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

static REGISTERED: OnceLock<Result<Registered, String>> = OnceLock::new();

/// Opens `path` as a read-write connection whose log goes through this VFS,
/// in WAL mode with `synchronous=FULL` (the mode the shim relies on).
pub fn open(path: &Path) -> Result<Connection, String> {
    REGISTERED.get_or_init(register).as_ref().map_err(Clone::clone)?;
    let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), NAME).map_err(|e| e.to_string())?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;").map_err(|e| e.to_string())?;
    Ok(conn)
}

fn register() -> Result<Registered, String> {
    // SAFETY: plain SQLite API calls; the VFS struct is leaked, so it lives
    // as long as the process, as SQLite requires of a registered VFS.
    unsafe {
        if ffi::sqlite3_initialize() != ffi::SQLITE_OK {
            return Err("SQLite could not initialise".into());
        }
        let real = ffi::sqlite3_vfs_find(std::ptr::null());
        if real.is_null() {
            return Err("SQLite has no default VFS".into());
        }
        let mut vfs = *real;
        vfs.zName = NAME.as_ptr();
        vfs.pNext = std::ptr::null_mut();
        vfs.szOsFile = (REAL_OFFSET + (*real).szOsFile as usize) as c_int;
        vfs.xOpen = Some(open_file);
        // The other methods are the platform's: they ignore the VFS pointer
        // or read only `pAppData`, copied above.
        let rc = ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0);
        if rc != ffi::SQLITE_OK {
            return Err(format!("registering the {NAME:?} VFS failed ({rc})"));
        }
        Ok(Registered(real))
    }
}

fn real_vfs() -> *mut ffi::sqlite3_vfs {
    match REGISTERED.get() {
        Some(Ok(Registered(real))) => *real,
        _ => unreachable!("files are opened only through a registered VFS"),
    }
}

/// A log file: SQLite's handle, then the platform's file object after it.
#[repr(C)]
struct LogFile {
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    /// File offset of `buffer[0]`.
    start: i64,
    buffer: Vec<u8>,
}

/// Where the platform's file object sits inside a log file's allocation.
const REAL_OFFSET: usize = size_of::<LogFile>().next_multiple_of(16);

unsafe extern "C" fn open_file(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real = real_vfs();
    // SAFETY: `file` is `szOsFile` bytes from SQLite; the platform's object
    // fits at offset 0 (any other file) or at `REAL_OFFSET` (a log file).
    unsafe {
        let xopen = (*real).xOpen.expect("the platform VFS opens files");
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            return xopen(real, name, file, flags, out_flags);
        }
        let inner = file.cast::<u8>().add(REAL_OFFSET).cast::<ffi::sqlite3_file>();
        let rc = xopen(real, name, inner, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            (*file).pMethods = std::ptr::null();
            return rc;
        }
        file.cast::<LogFile>().write(LogFile {
            base: ffi::sqlite3_file { pMethods: &LOG_METHODS },
            real: inner,
            start: 0,
            buffer: Vec::new(),
        });
        ffi::SQLITE_OK
    }
}

static LOG_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// The log file behind SQLite's handle, and the platform's methods for it.
///
/// # Safety
/// `file` must be a handle [`open_file`] opened as a log file.
unsafe fn log<'a>(
    file: *mut ffi::sqlite3_file,
) -> (&'a mut LogFile, *mut ffi::sqlite3_file, &'a ffi::sqlite3_io_methods) {
    // SAFETY: per the contract, `file` is a `LogFile` whose `real` is open.
    unsafe {
        let log = &mut *file.cast::<LogFile>();
        let real = log.real;
        (log, real, &*(*real).pMethods)
    }
}

/// Writes the buffered bytes to the file; the buffer is empty afterwards
/// even on failure (SQLite then fails the transaction, which never commits).
fn flush(log: &mut LogFile, real: *mut ffi::sqlite3_file, methods: &ffi::sqlite3_io_methods) -> c_int {
    if log.buffer.is_empty() {
        return ffi::SQLITE_OK;
    }
    let xwrite = methods.xWrite.expect("the platform file writes");
    // SAFETY: `real` is open; the buffer is at most CAPACITY bytes.
    let rc = unsafe { xwrite(real, log.buffer.as_ptr().cast(), log.buffer.len() as c_int, log.start) };
    log.buffer.clear();
    rc
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, data: *const c_void, amount: c_int, offset: i64) -> c_int {
    // SAFETY: SQLite calls this on a handle `open_file` made a log file, with
    // `amount` readable bytes at `data`.
    unsafe {
        let (log, real, methods) = log(file);
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), amount as usize);
        let end = log.start + log.buffer.len() as i64;
        if !log.buffer.is_empty() && offset == end && log.buffer.len() + bytes.len() <= CAPACITY {
            log.buffer.extend_from_slice(bytes);
            return ffi::SQLITE_OK;
        }
        let rc = flush(log, real, methods);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if bytes.len() >= CAPACITY {
            return methods.xWrite.expect("the platform file writes")(real, data, amount, offset);
        }
        if log.buffer.capacity() == 0 {
            log.buffer.reserve_exact(CAPACITY);
        }
        log.start = offset;
        log.buffer.extend_from_slice(bytes);
        ffi::SQLITE_OK
    }
}

/// Writes the buffer, then calls `then` with the platform's file and methods.
///
/// # Safety
/// As [`log`].
unsafe fn flushed(
    file: *mut ffi::sqlite3_file,
    then: impl FnOnce(*mut ffi::sqlite3_file, &ffi::sqlite3_io_methods) -> c_int,
) -> c_int {
    // SAFETY: per the contract.
    let (log, real, methods) = unsafe { log(file) };
    match flush(log, real, methods) {
        ffi::SQLITE_OK => then(real, methods),
        rc => rc,
    }
}

/// Calls `then` with the platform's file and methods (no bytes involved).
///
/// # Safety
/// As [`log`].
unsafe fn direct(
    file: *mut ffi::sqlite3_file,
    then: impl FnOnce(*mut ffi::sqlite3_file, &ffi::sqlite3_io_methods) -> c_int,
) -> c_int {
    // SAFETY: per the contract.
    let (_, real, methods) = unsafe { log(file) };
    then(real, methods)
}

// SQLite calls each of these only on a handle `open_file` made a log file,
// with the pointers its VFS contract promises; the platform's method is
// present (the unix VFS has them all) and called with the same arguments.

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe { flushed(file, |real, m| m.xSync.expect("xSync")(real, flags)) }
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, data: *mut c_void, amount: c_int, offset: i64) -> c_int {
    unsafe { flushed(file, |real, m| m.xRead.expect("xRead")(real, data, amount, offset)) }
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    unsafe { flushed(file, |real, m| m.xTruncate.expect("xTruncate")(real, size)) }
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    unsafe { flushed(file, |real, m| m.xFileSize.expect("xFileSize")(real, size)) }
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, argument: *mut c_void) -> c_int {
    unsafe { flushed(file, |real, m| m.xFileControl.expect("xFileControl")(real, op, argument)) }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // After this SQLite never uses the handle again: the buffer is dropped.
    unsafe {
        let flushed = flushed(file, |_, _| ffi::SQLITE_OK);
        let closed = direct(file, |real, m| m.xClose.expect("xClose")(real));
        std::ptr::drop_in_place(&mut (*file.cast::<LogFile>()).buffer);
        if flushed != ffi::SQLITE_OK { flushed } else { closed }
    }
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe { direct(file, |real, m| m.xLock.expect("xLock")(real, level)) }
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe { direct(file, |real, m| m.xUnlock.expect("xUnlock")(real, level)) }
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    unsafe { direct(file, |real, m| m.xCheckReservedLock.expect("xCheckReservedLock")(real, out)) }
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe { direct(file, |real, m| m.xSectorSize.expect("xSectorSize")(real)) }
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    unsafe { direct(file, |real, m| m.xDeviceCharacteristics.expect("xDeviceCharacteristics")(real)) }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;

    /// Write system calls made by this thread so far (Linux's per-thread I/O
    /// accounting counts `pwrite` too, not `fsync`).
    fn writes_by_this_thread() -> u64 {
        let io = std::fs::read_to_string("/proc/thread-self/io").unwrap();
        io.lines().find_map(|l| l.strip_prefix("syscw: ")).unwrap().trim().parse().unwrap()
    }

    #[test]
    fn a_commit_reaches_the_log_in_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("db")).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB)").unwrap();
        let before = writes_by_this_thread();
        // Twenty rows of 3,000 bytes: twenty pages, forty frame writes in SQLite.
        conn.execute_batch("BEGIN").unwrap();
        for n in 0..20 {
            conn.execute("INSERT INTO t VALUES (?1, zeroblob(3000))", params![n]).unwrap();
        }
        conn.execute_batch("COMMIT").unwrap();
        assert_eq!(writes_by_this_thread() - before, 1);
    }

    #[test]
    fn every_commit_is_whole_for_readers_and_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = open(&path).unwrap();
        // A tiny page cache makes SQLite spill frames mid-transaction and read
        // them back; 300 KB commits need several writes of the buffer.
        writer.execute_batch("PRAGMA cache_size=8; CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB)").unwrap();
        let reader = Connection::open(&path).unwrap();
        let mut expected = 0_i64;
        for round in 0..30_i64 {
            writer.execute_batch("BEGIN").unwrap();
            for row in 0..(1 + round % 3) * 50 {
                writer.execute("INSERT INTO t VALUES (?1, randomblob(2000))", params![round * 1000 + row]).unwrap();
                expected += 1;
            }
            writer.execute_batch("COMMIT").unwrap();
            let seen: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
            assert_eq!(seen, expected, "round {round}");
            if round == 20 {
                writer.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
            }
        }
        let check: String = writer.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        drop((writer, reader));
        let reopened = Connection::open(&path).unwrap();
        let count: i64 =
            reopened.query_row("SELECT count(*) FROM t WHERE length(body) = 2000", [], |r| r.get(0)).unwrap();
        assert_eq!(count, expected);
    }

    #[test]
    fn a_rolled_back_transaction_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = open(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB); INSERT INTO t VALUES (1, x'01')")
            .unwrap();
        writer.execute_batch("PRAGMA cache_size=8; BEGIN").unwrap();
        for n in 2..200 {
            writer.execute("INSERT INTO t VALUES (?1, randomblob(2000))", params![n]).unwrap();
        }
        writer.execute_batch("ROLLBACK").unwrap();
        writer.execute("INSERT INTO t VALUES (2, x'02')", []).unwrap();
        drop(writer);
        let reopened = Connection::open(&path).unwrap();
        let rows: Vec<i64> = reopened
            .prepare("SELECT n FROM t")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows, [1, 2]);
    }
}
