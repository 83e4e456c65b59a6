//! The core's object storage over the R2 binding. Bytes of chunks and sources never enter wasm
//! memory: `concat` pipes stored objects into a fixed-length stream handed to R2, and `open`
//! hands the object's body to the response, all on the JavaScript side.

use js_sys::{BigInt, Object, Reflect};
use std::collections::BTreeMap;
use upload_tokens_core::storage::kv::{StoreError, StoreResult};
use upload_tokens_core::storage::objects::{Concat, ObjectInfo, ObjectMeta, ObjectPage, Objects};
use upload_tokens_core::time::from_millis;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Bucket, Env, Include};

/// The R2 binding holding videos.
pub const BUCKET_BINDING: &str = "VIDEOS";

fn failed(what: &'static str) -> impl Fn(worker::Error) -> StoreError {
    move |e| StoreError(format!("R2 {what} failed: {e}"))
}

fn js_failed(what: &'static str) -> impl Fn(JsValue) -> StoreError {
    move |e| StoreError(format!("R2 {what} failed: {e:?}"))
}

/// R2 through the `worker` crate, and raw JavaScript where bytes must only be streamed.
pub struct WorkerObjects {
    bucket: Bucket,
}

impl WorkerObjects {
    pub fn new(env: &Env) -> worker::Result<Self> {
        Ok(Self {
            bucket: env.bucket(BUCKET_BINDING)?,
        })
    }

    /// The binding itself, for the JavaScript that stages upload bodies.
    pub fn raw(&self) -> &JsValue {
        self.bucket.as_ref()
    }

    fn js(&self) -> &worker::worker_sys::R2Bucket {
        self.bucket.as_ref().unchecked_ref()
    }
}

fn info(object: &worker::Object) -> ObjectInfo {
    ObjectInfo {
        key: object.key(),
        size: object.size(),
        uploaded: from_millis(object.uploaded().as_millis() as f64),
        custom: object
            .custom_metadata()
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The options object of an R2 `put`: the media type and custom metadata.
fn put_options(meta: ObjectMeta<'_>) -> StoreResult<Object> {
    let set = |o: &Object, k: &str, v: &JsValue| Reflect::set(o, &JsValue::from_str(k), v);
    let build = || {
        let options = Object::new();
        let custom = Object::new();
        for (k, v) in meta.custom {
            set(&custom, k, &JsValue::from_str(v))?;
        }
        set(&options, "customMetadata", &custom)?;
        if let Some(ct) = meta.content_type {
            let http = Object::new();
            set(&http, "contentType", &JsValue::from_str(ct))?;
            set(&options, "httpMetadata", &http)?;
        }
        Ok(options)
    };
    build().map_err(js_failed("building options"))
}

impl Objects for WorkerObjects {
    type Body = web_sys::ReadableStream;

    async fn get_text(&self, key: &str) -> StoreResult<Option<String>> {
        let Some(object) = self
            .bucket
            .get(key)
            .execute()
            .await
            .map_err(failed("get"))?
        else {
            return Ok(None);
        };
        let body = object
            .body()
            .ok_or_else(|| StoreError("R2 get: an object has no body".into()))?;
        body.text().await.map(Some).map_err(failed("get"))
    }

    async fn put_text(&self, key: &str, text: &str) -> StoreResult<()> {
        self.bucket
            .put(key, text.to_owned())
            .execute()
            .await
            .map(|_| ())
            .map_err(failed("put"))
    }

    async fn create_text(&self, key: &str, text: &str) -> StoreResult<bool> {
        let only_if_absent = worker::Conditional {
            etag_does_not_match: Some("*".to_owned()),
            ..Default::default()
        };
        let written = self
            .bucket
            .put(key, text.to_owned())
            .only_if(only_if_absent)
            .execute()
            .await
            .map_err(failed("put"))?;
        Ok(written.is_some())
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectInfo>> {
        let object = self.bucket.head(key).await.map_err(failed("head"))?;
        Ok(object.as_ref().map(info))
    }

    async fn list(&self, prefix: &str, from: Option<&str>, max: usize) -> StoreResult<ObjectPage> {
        let mut list = self
            .bucket
            .list()
            .prefix(prefix)
            .limit(max as u32)
            .include(vec![Include::CustomMetadata]);
        if let Some(c) = from {
            list = list.cursor(c);
        }
        let page = list.execute().await.map_err(failed("list"))?;
        Ok(ObjectPage {
            objects: page.objects().iter().map(info).collect(),
            cursor: page.cursor().filter(|_| page.truncated()),
        })
    }

    async fn delete(&self, keys: &[String]) -> StoreResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.bucket
            .delete_multiple(keys.to_vec())
            .await
            .map_err(failed("delete"))
    }

    async fn concat(&self, job: Concat<'_>) -> StoreResult<()> {
        let options = put_options(job.meta)?;
        let fixed = worker::worker_sys::FixedLengthStream::new_big_int(BigInt::from(job.total))
            .map_err(js_failed("streaming"))?;
        let transform: &web_sys::TransformStream = fixed.unchecked_ref();
        let (readable, writable) = (transform.readable(), transform.writable());
        let put = JsFuture::from(
            self.js()
                .put(job.dest.to_owned(), readable.into(), options.into())
                .map_err(js_failed("put"))?,
        );
        let pipe_options = web_sys::StreamPipeOptions::new();
        pipe_options.set_prevent_close(true);
        let piped = async {
            for source in job.sources {
                let Some((_, body)) = self.open(source).await? else {
                    return Err(StoreError(format!(
                        "R2: {source} vanished while being piped"
                    )));
                };
                JsFuture::from(body.pipe_to_with_options(&writable, &pipe_options))
                    .await
                    .map_err(js_failed("pipe"))?;
            }
            JsFuture::from(writable.close())
                .await
                .map_err(js_failed("close"))?;
            Ok(())
        };
        let piped = async {
            let result = piped.await;
            if result.is_err() {
                // Without this the put would wait for the rest of the stream for ever.
                let _ = JsFuture::from(writable.abort()).await;
            }
            result
        };
        let (piped, put) = futures_util::join!(piped, put);
        piped?;
        put.map_err(js_failed("put"))?;
        Ok(())
    }

    async fn open(&self, key: &str) -> StoreResult<Option<(ObjectInfo, Self::Body)>> {
        let promise = self
            .js()
            .get(key.to_owned(), JsValue::UNDEFINED)
            .map_err(js_failed("get"))?;
        let object = JsFuture::from(promise).await.map_err(js_failed("get"))?;
        if object.is_null() || object.is_undefined() {
            return Ok(None);
        }
        let size = Reflect::get(&object, &"size".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0) as u64;
        let body: web_sys::ReadableStream = Reflect::get(&object, &"body".into())
            .map_err(js_failed("get"))?
            .unchecked_into();
        // Only the size is read: the answer needs nothing else of it.
        let info = ObjectInfo {
            key: key.to_owned(),
            size,
            uploaded: 0,
            custom: BTreeMap::new(),
        };
        Ok(Some((info, body)))
    }
}
