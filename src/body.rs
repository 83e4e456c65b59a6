//! The request body as the core reads it: a JSON body read whole (never past its limit), or an
//! upload's multipart body staged into R2 as it arrives by `js/multipart.js`.

use futures_util::StreamExt;
use upload_tokens_core::digest::ContentDigest;
use upload_tokens_core::http::{Body, BodyError, FormError, StagedFile, StagedForm};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::web_sys::Request;
use worker::ByteStream;

#[wasm_bindgen(module = "/src/js/multipart.js")]
extern "C" {
    /// What `stageMultipart` answers.
    type Staged;
    #[wasm_bindgen(method, getter)]
    fn files(this: &Staged) -> js_sys::Array;
    #[wasm_bindgen(method, getter)]
    fn fields(this: &Staged) -> Fields;
    #[wasm_bindgen(method, getter)]
    fn error(this: &Staged) -> Option<String>;

    /// A staged file part.
    type Part;
    #[wasm_bindgen(method, getter)]
    fn key(this: &Part) -> String;
    #[wasm_bindgen(method, getter)]
    fn filename(this: &Part) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = type)]
    fn content_type(this: &Part) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn size(this: &Part) -> f64;
    /// The SHA-256 of its bytes, in hex.
    #[wasm_bindgen(method, getter)]
    fn sha256(this: &Part) -> Option<String>;

    /// The text fields of the form.
    type Fields;
    #[wasm_bindgen(method, getter, js_name = videoId)]
    fn video_id(this: &Fields) -> Option<String>;

    /// See `stageMultipart` in `js/multipart.js`.
    #[wasm_bindgen(js_name = stageMultipart)]
    fn stage_multipart(
        request: &web_sys::Request,
        bucket: &JsValue,
        staging_prefix: &str,
        max_file_bytes: f64,
    ) -> js_sys::Promise;
}

/// The request's body, and the R2 binding its file parts are staged into.
pub struct RequestBody<'r> {
    pub req: &'r Request,
    pub declared_length: Option<u64>,
    pub bucket: &'r JsValue,
}

impl Body for RequestBody<'_> {
    /// Read whole when its declared length is within the limit, else as a stream, so that no
    /// more than the limit is ever buffered.
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if self.declared_length.is_some_and(|n| n > limit as u64) {
            return Err(BodyError::TooLarge);
        }
        if self.declared_length.is_some() {
            // Its length is known and within the limit (the runtime holds a body to its
            // declared length): read it whole, in one step.
            let js_failed = |e: JsValue| BodyError::Failed(format!("{e:?}"));
            let buffer =
                wasm_bindgen_futures::JsFuture::from(self.req.array_buffer().map_err(js_failed)?)
                    .await
                    .map_err(js_failed)?;
            let bytes = js_sys::Uint8Array::new(&buffer);
            if bytes.length() as usize > limit {
                return Err(BodyError::TooLarge);
            }
            return Ok(bytes.to_vec());
        }
        let failed = |e: worker::Error| BodyError::Failed(e.to_string());
        let Some(body) = self.req.body() else {
            return Ok(Vec::new());
        };
        let mut stream = ByteStream::from(body);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(failed)?;
            if bytes.len() + chunk.len() > limit {
                // Read the rest without keeping it, so the answer reaches the client.
                while let Some(Ok(_)) = stream.next().await {}
                return Err(BodyError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    async fn stage(
        self,
        staging_prefix: &str,
        max_file_bytes: u64,
    ) -> Result<StagedForm, FormError> {
        let promise = stage_multipart(self.req, self.bucket, staging_prefix, max_file_bytes as f64);
        let staged: Staged = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|e| FormError::Failed(format!("{e:?}")))?
            .unchecked_into();
        match staged.error().as_deref() {
            None => {}
            Some("too-large") => return Err(FormError::TooLarge),
            Some("not-multipart") => return Err(FormError::NotMultipart),
            Some(_) => return Err(FormError::Malformed),
        }
        let files = staged
            .files()
            .iter()
            .map(|part| {
                let part: Part = part.unchecked_into();
                let key = part.key();
                let sha256 = part.sha256().as_deref().and_then(ContentDigest::parse);
                let Some(sha256) = sha256 else {
                    return Err(FormError::Failed(format!(
                        "{key} was staged without a digest"
                    )));
                };
                Ok(StagedFile {
                    key,
                    name: part.filename().unwrap_or_default(),
                    content_type: part.content_type().unwrap_or_default(),
                    size: part.size() as u64,
                    sha256,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(StagedForm {
            files,
            video_id: staged.fields().video_id(),
        })
    }
}
