//! The base image and the local mirror: `hack/vm-image/build.sh` builds them once per recipe
//! hash into the cache directory (outside the clone); this module runs it and checks the result.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{VmError, run};

/// Where the mirror is served inside the namespace; the image's apt source names it (the
/// script's `MIRROR_ADDR` and `MIRROR_PORT`).
pub const MIRROR_URL: &str = "http://10.199.0.1:8080/";

/// A built base image and mirror.
#[derive(Clone, Debug)]
pub struct BaseImage {
    /// The cache directory of this recipe.
    pub dir: PathBuf,
}

impl BaseImage {
    /// Builds the image and mirror unless this recipe's are cached (`repo` is the clone's root);
    /// the script's progress goes to this process's stderr.
    pub fn ensure(repo: &Path) -> Result<Self, VmError> {
        let script = repo.join("hack/vm-image/build.sh");
        let out = run(Command::new(&script).stderr(std::process::Stdio::inherit()))?;
        let dir = PathBuf::from(out.trim());
        let image = Self { dir };
        let recipe =
            std::fs::read_to_string(image.dir.join("recipe")).map_err(|source| VmError::Io {
                path: image.dir.join("recipe").display().to_string(),
                source,
            })?;
        if !recipe.contains(&format!("mirror: {MIRROR_URL}")) {
            return Err(VmError::Image(format!(
                "{}: the image's mirror is not {MIRROR_URL} (hack/vm-image/build.sh and e2e/src/vm/image.rs disagree)",
                image.dir.display()
            )));
        }
        for f in ["base.qcow2", "vmlinuz", "initrd.img", "mirror/Packages"] {
            if !image.dir.join(f).is_file() {
                return Err(VmError::Image(format!(
                    "{}: {f} is missing; remove the directory to rebuild",
                    image.dir.display()
                )));
            }
        }
        Ok(image)
    }

    /// The qcow2 every VM's disk is an overlay of.
    pub fn qcow2(&self) -> PathBuf {
        self.dir.join("base.qcow2")
    }

    /// The kernel.
    pub fn kernel(&self) -> PathBuf {
        self.dir.join("vmlinuz")
    }

    /// The initramfs.
    pub fn initrd(&self) -> PathBuf {
        self.dir.join("initrd.img")
    }

    /// The mirror's root (a flat apt repository).
    pub fn mirror(&self) -> PathBuf {
        self.dir.join("mirror")
    }
}
