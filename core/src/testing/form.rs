//! An upload's multipart body on the host: its parts are given, and staging writes each file
//! part into a [`MemoryObjects`] the way the Worker's `js/multipart.js` writes it into R2
//! (one put under 5 MiB, else a multipart upload of 5 MiB parts), taking the SHA-256 of each
//! file as its slices are written, and refusing a file over the limit with nothing left staged.

use super::objects::{MemoryObjects, MIN_PART};
use crate::digest::ContentDigest;
use crate::http::{Body, BodyError, FormError, StagedFile, StagedForm};
use crate::storage::objects::Objects;
use sha2::{Digest, Sha256};
use std::cell::Cell;

/// One part of a form.
#[derive(Debug, Clone)]
pub enum Part {
    Field(String, String),
    File {
        name: String,
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// A multipart body, or (with `parts: None`) a body that is no multipart form at all, or one
/// the parser finds malformed.
#[derive(Clone)]
pub struct FormBody<'o> {
    objects: &'o MemoryObjects,
    parts: Option<Vec<Part>>,
    malformed: bool,
}

thread_local! {
    static STAGED: Cell<u64> = const { Cell::new(0) };
}

impl<'o> FormBody<'o> {
    /// An empty form, staged into `objects`.
    pub fn new(objects: &'o MemoryObjects) -> Self {
        Self {
            objects,
            parts: Some(Vec::new()),
            malformed: false,
        }
    }

    /// A body that is not `multipart/form-data`.
    pub fn not_multipart(objects: &'o MemoryObjects) -> Self {
        Self {
            objects,
            parts: None,
            malformed: false,
        }
    }

    /// A `multipart/form-data` body the parser cannot read (a boundary that never comes, a
    /// body cut short, a part header it refuses): nothing of it is staged.
    pub fn malformed(objects: &'o MemoryObjects) -> Self {
        Self {
            objects,
            parts: None,
            malformed: true,
        }
    }

    /// Adds a file part.
    #[must_use]
    pub fn file(mut self, name: &str, content_type: &str, bytes: &[u8]) -> Self {
        if let Some(parts) = &mut self.parts {
            parts.push(Part::File {
                name: name.to_owned(),
                content_type: content_type.to_owned(),
                bytes: bytes.to_vec(),
            });
        }
        self
    }

    /// Adds a text field.
    #[must_use]
    pub fn field(mut self, name: &str, value: &str) -> Self {
        if let Some(parts) = &mut self.parts {
            parts.push(Part::Field(name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Stages one file, hashing each slice as it is written (as the Worker feeds each slice to
    /// the runtime's `DigestStream`); the digest of its bytes.
    async fn stage_file(&self, key: &str, bytes: &[u8]) -> Result<ContentDigest, FormError> {
        let failed = |e: crate::storage::kv::StoreError| FormError::Failed(e.0);
        let mut hash = Sha256::new();
        if bytes.len() < MIN_PART {
            hash.update(bytes);
            self.objects.put_bytes(key, bytes).map_err(failed)?;
            return Ok(ContentDigest::from(<[u8; 32]>::from(hash.finalize())));
        }
        let id = self.objects.create_multipart(key).map_err(failed)?;
        for slice in bytes.chunks(MIN_PART) {
            hash.update(slice);
            if let Err(e) = self.objects.upload_part(id, slice) {
                self.objects.abort_multipart(id);
                return Err(failed(e));
            }
        }
        self.objects.complete_multipart(id).map_err(failed)?;
        Ok(ContentDigest::from(<[u8; 32]>::from(hash.finalize())))
    }
}

impl Body for FormBody<'_> {
    async fn read(self, _: usize) -> Result<Vec<u8>, BodyError> {
        Err(BodyError::Failed("a form body is not read as JSON".into()))
    }

    async fn stage(
        self,
        staging_prefix: &str,
        max_file_bytes: u64,
    ) -> Result<StagedForm, FormError> {
        let Some(parts) = &self.parts else {
            return Err(if self.malformed {
                FormError::Malformed
            } else {
                FormError::NotMultipart
            });
        };
        let mut form = StagedForm::default();
        for part in parts {
            match part {
                Part::Field(name, value) if name == "videoId" => {
                    form.video_id = Some(value.clone())
                }
                Part::Field(..) => {}
                Part::File {
                    name,
                    content_type,
                    bytes,
                } => {
                    if bytes.len() as u64 > max_file_bytes {
                        let staged: Vec<String> =
                            form.files.iter().map(|f| f.key.clone()).collect();
                        let _ = self.objects.delete(&staged).await;
                        return Err(FormError::TooLarge);
                    }
                    let n = STAGED.with(|c| {
                        c.set(c.get() + 1);
                        c.get()
                    });
                    let key = format!("{staging_prefix}{n:08}");
                    let sha256 = self.stage_file(&key, bytes).await?;
                    form.files.push(StagedFile {
                        key,
                        name: name.clone(),
                        content_type: content_type.clone(),
                        size: bytes.len() as u64,
                        sha256,
                    });
                }
            }
        }
        Ok(form)
    }
}
