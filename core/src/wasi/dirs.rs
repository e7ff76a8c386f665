//! The directories a plug-in sees: host directories opened through cap-std (whose `Dir`
//! resolves every path inside the directory, so `..`, absolute paths and symlinks that lead
//! outside it are refused), wrapped to refuse what xtism refuses on top: creating symlinks
//! anywhere, and any change under a read-only (`ro:`) mapping, including in subdirectories
//! opened from it, renames or links into or out of it, and the files opened under it (see
//! `readonly`). Only regular files, directories and symlinks open.

use std::any::Any;
use std::path::PathBuf;

use wasi_common::dir::{OpenResult, ReaddirCursor, ReaddirEntity, WasiDir};
use wasi_common::file::{FdFlags, FileType, Filestat, OFlags};
use wasi_common::{Error, ErrorExt, SystemTimeSpec};

use super::readonly::ReadOnlyFile;

/// A directory of the sandbox: a cap-std directory and whether it is read-only.
pub(super) struct SandboxDir {
    inner: Box<dyn WasiDir>,
    read_only: bool,
}

impl SandboxDir {
    /// The host directory `dir` (already opened) as the guest sees it.
    pub(super) fn new(dir: cap_std::fs::Dir, read_only: bool) -> SandboxDir {
        SandboxDir {
            inner: Box::new(wasi_common::sync::dir::Dir::from_cap_std(dir)),
            read_only,
        }
    }

    /// Refuses a change when the directory is read-only, with `ENOTSUP` as the official
    /// runtime does.
    fn writable(&self) -> Result<(), Error> {
        if self.read_only {
            Err(Error::not_supported().context("the directory is mapped read-only"))
        } else {
            Ok(())
        }
    }

    /// The other directory of a rename or link, when it is a writable sandbox directory.
    fn writable_peer<'a>(&self, other: &'a dyn WasiDir) -> Result<&'a SandboxDir, Error> {
        let other = other
            .as_any()
            .downcast_ref::<SandboxDir>()
            .ok_or_else(|| Error::not_supported().context("not a directory of this sandbox"))?;
        other.writable()?;
        Ok(other)
    }
}

/// Whether an open can change the file: writing, appending (wasi-common opens an APPEND
/// file for writing whatever the rights say), creating or truncating it.
pub(super) fn opens_for_change(write: bool, oflags: OFlags, fdflags: FdFlags) -> bool {
    write
        || fdflags.contains(FdFlags::APPEND)
        || oflags.intersects(OFlags::CREATE | OFlags::TRUNCATE)
}

/// Refuses to open what is neither a regular file, a directory nor a symlink (which the open
/// then resolves inside the sandbox): a FIFO or a device the host left in a mapping could
/// block the call past its deadline.
pub(super) fn ordinary(filetype: FileType) -> Result<(), Error> {
    match filetype {
        FileType::RegularFile | FileType::Directory | FileType::SymbolicLink => Ok(()),
        _ => Err(Error::not_supported().context("only regular files and directories open")),
    }
}

#[async_trait::async_trait]
impl WasiDir for SandboxDir {
    fn as_any(&self) -> &dyn Any {
        self
    }

    async fn open_file(
        &self,
        symlink_follow: bool,
        path: &str,
        oflags: OFlags,
        read: bool,
        write: bool,
        fdflags: FdFlags,
    ) -> Result<OpenResult, Error> {
        if opens_for_change(write, oflags, fdflags) {
            self.writable()?;
        }
        if let Ok(stat) = self.inner.get_path_filestat(path, symlink_follow).await {
            ordinary(stat.filetype)?;
        }
        let opened = self
            .inner
            .open_file(symlink_follow, path, oflags, read, write, fdflags)
            .await?;
        Ok(match opened {
            OpenResult::Dir(inner) => OpenResult::Dir(Box::new(SandboxDir {
                inner,
                read_only: self.read_only,
            })),
            OpenResult::File(file) if self.read_only => {
                OpenResult::File(Box::new(ReadOnlyFile::new(file)))
            }
            file => file,
        })
    }

    async fn create_dir(&self, path: &str) -> Result<(), Error> {
        self.writable()?;
        self.inner.create_dir(path).await
    }

    async fn readdir(
        &self,
        cursor: ReaddirCursor,
    ) -> Result<Box<dyn Iterator<Item = Result<ReaddirEntity, Error>> + Send>, Error> {
        self.inner.readdir(cursor).await
    }

    async fn symlink(&self, _old_path: &str, _new_path: &str) -> Result<(), Error> {
        Err(Error::perm().context("plug-ins may not create symlinks"))
    }

    async fn remove_dir(&self, path: &str) -> Result<(), Error> {
        self.writable()?;
        self.inner.remove_dir(path).await
    }

    async fn unlink_file(&self, path: &str) -> Result<(), Error> {
        self.writable()?;
        self.inner.unlink_file(path).await
    }

    async fn read_link(&self, path: &str) -> Result<PathBuf, Error> {
        self.inner.read_link(path).await
    }

    async fn get_filestat(&self) -> Result<Filestat, Error> {
        self.inner.get_filestat().await
    }

    async fn get_path_filestat(
        &self,
        path: &str,
        follow_symlinks: bool,
    ) -> Result<Filestat, Error> {
        self.inner.get_path_filestat(path, follow_symlinks).await
    }

    async fn rename(
        &self,
        path: &str,
        dest_dir: &dyn WasiDir,
        dest_path: &str,
    ) -> Result<(), Error> {
        self.writable()?;
        let dest = self.writable_peer(dest_dir)?;
        self.inner
            .rename(path, dest.inner.as_ref(), dest_path)
            .await
    }

    async fn hard_link(
        &self,
        path: &str,
        target_dir: &dyn WasiDir,
        target_path: &str,
    ) -> Result<(), Error> {
        // A link out of a read-only mapping would be a writable alias of its file.
        self.writable()?;
        let target = self.writable_peer(target_dir)?;
        self.inner
            .hard_link(path, target.inner.as_ref(), target_path)
            .await
    }

    async fn set_times(
        &self,
        path: &str,
        atime: Option<SystemTimeSpec>,
        mtime: Option<SystemTimeSpec>,
        follow_symlinks: bool,
    ) -> Result<(), Error> {
        self.writable()?;
        self.inner
            .set_times(path, atime, mtime, follow_symlinks)
            .await
    }
}
