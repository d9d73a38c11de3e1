//! `/v1/devices`, `/v1/contacts`, `/v1/groups`, `/v1/rules`: the IoT registry.
//!
//! `POST` creates (409 `already_exists` when the id is taken), `PUT /{id}` creates or replaces,
//! `DELETE /{id}` removes (409 `in_use` while a group or rule still names it). Changes go
//! through the engine task and answer once committed. Devices and rules belong to the key that
//! created them: other non-admin keys neither see nor change them.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use serde::de::DeserializeOwned;
use smsgate_iot::engine::Engine;
use smsgate_iot::model::{Contact, Device, Group, Rule};
use smsgate_iot::view::DeviceView;
use smsgate_iot::{IotError, Put};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::iot_service;

/// A registry entry kind, so the handlers below share one implementation.
trait Entry: Serialize + DeserializeOwned + Clone + Send + 'static {
    /// `device`, `contact`, …
    const KIND: &'static str;
    /// What the API returns for it.
    type View: Serialize + Send + 'static;
    fn id(&self) -> &str;
    fn set_id(&mut self, id: String);
    /// The owning tenant (`None`: `default`).
    fn owner(&self) -> Option<&str>;
    fn set_owner(&mut self, owner: Option<String>);
    fn all(e: &Engine) -> Vec<Self>;
    fn view(e: &Engine, v: &Self) -> Self::View;
    fn put(e: &mut Engine, v: Self, put: Put, now: i64) -> Result<Self, IotError>;
    fn delete(e: &mut Engine, id: &str, now: i64) -> Result<(), IotError>;
}

impl Entry for Device {
    const KIND: &'static str = "device";
    type View = DeviceView;
    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }
    fn set_owner(&mut self, owner: Option<String>) {
        self.owner = owner;
    }
    fn all(e: &Engine) -> Vec<Self> {
        e.devices().into_iter().map(|r| r.device).collect()
    }
    fn view(e: &Engine, v: &Self) -> DeviceView {
        match e.device(&v.id) {
            Some(row) => DeviceView::from(&row),
            None => DeviceView::from(&smsgate_iot::engine::DeviceRow {
                device: v.clone(),
                created_at: 0,
                state: Default::default(),
            }),
        }
    }
    fn put(e: &mut Engine, v: Self, put: Put, now: i64) -> Result<Self, IotError> {
        e.put_device(v, put, now)
    }
    fn delete(e: &mut Engine, id: &str, now: i64) -> Result<(), IotError> {
        e.delete_device(id, now)
    }
}

/// `Entry` for a kind shown as stored, with its engine methods.
macro_rules! plain_entry {
    ($ty:ty, $kind:literal, $all:ident, $put:ident, $delete:ident) => {
        impl Entry for $ty {
            const KIND: &'static str = $kind;
            type View = $ty;
            fn id(&self) -> &str {
                &self.id
            }
            fn set_id(&mut self, id: String) {
                self.id = id;
            }
            fn owner(&self) -> Option<&str> {
                self.owner.as_deref()
            }
            fn set_owner(&mut self, owner: Option<String>) {
                self.owner = owner;
            }
            fn all(e: &Engine) -> Vec<Self> {
                e.$all()
            }
            fn view(_: &Engine, v: &Self) -> Self {
                v.clone()
            }
            fn put(e: &mut Engine, v: Self, put: Put, now: i64) -> Result<Self, IotError> {
                e.$put(v, put, now)
            }
            fn delete(e: &mut Engine, id: &str, now: i64) -> Result<(), IotError> {
                e.$delete(id, now)
            }
        }
    };
}

impl Entry for Contact {
    const KIND: &'static str = "contact";
    type View = smsgate_iot::view::ContactView;
    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }
    fn set_owner(&mut self, owner: Option<String>) {
        self.owner = owner;
    }
    fn all(e: &Engine) -> Vec<Self> {
        e.contacts()
    }
    fn view(_: &Engine, v: &Self) -> Self::View {
        Self::View::from(v)
    }
    fn put(e: &mut Engine, v: Self, put: Put, now: i64) -> Result<Self, IotError> {
        e.put_contact(v, put, now)
    }
    fn delete(e: &mut Engine, id: &str, now: i64) -> Result<(), IotError> {
        e.delete_contact(id, now)
    }
}
plain_entry!(Group, "group", groups, put_group, delete_group);

impl Entry for Rule {
    const KIND: &'static str = "rule";
    type View = Rule;
    fn id(&self) -> &str {
        &self.id
    }
    fn set_id(&mut self, id: String) {
        self.id = id;
    }
    fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }
    fn set_owner(&mut self, owner: Option<String>) {
        self.owner = owner;
    }
    fn all(e: &Engine) -> Vec<Self> {
        e.rules()
    }
    fn view(_: &Engine, v: &Self) -> Rule {
        v.clone()
    }
    fn put(e: &mut Engine, v: Self, put: Put, now: i64) -> Result<Self, IotError> {
        e.put_rule(v, put, now)
    }
    fn delete(e: &mut Engine, id: &str, now: i64) -> Result<(), IotError> {
        e.delete_rule(id, now)
    }
}

/// Whether the caller may see an entry: admins everything, others their tenant's (an entry
/// without a tenant, from the config, is `default`'s).
fn visible(caller: &Caller, owner: Option<&str>) -> bool {
    caller.may_see(Some(owner.unwrap_or(smsgate_core::store::DEFAULT_TENANT)))
}

async fn list<T: Entry>(state: &AppState, caller: Caller) -> ApiResult<Vec<T::View>> {
    caller.require("iot")?;
    let views = iot_service(state)?
        .call(move |e, _| {
            Ok(T::all(e)
                .iter()
                .filter(|v| visible(&caller, v.owner()))
                .map(|v| T::view(e, v))
                .collect())
        })
        .await?;
    Ok(views)
}

async fn get<T: Entry>(state: &AppState, caller: Caller, id: String) -> ApiResult<T::View> {
    caller.require("iot")?;
    let view = iot_service(state)?
        .call(move |e, _| {
            T::all(e)
                .into_iter()
                .find(|v| v.id() == id && visible(&caller, v.owner()))
                .map(|v| T::view(e, &v))
                .ok_or_else(|| IotError::NotFound(format!("{} '{id}'", T::KIND)))
        })
        .await?;
    Ok(view)
}

/// Parses a body into an entry; on `PUT` the path names the id.
fn parse<T: Entry>(mut body: serde_json::Value, path_id: Option<&str>) -> ApiResult<T> {
    if let (Some(id), Some(obj)) = (path_id, body.as_object_mut()) {
        match obj.get("id").and_then(|v| v.as_str()) {
            Some(b) if b != id => {
                return Err(ApiError::bad_request(
                    "id_mismatch",
                    format!("the body's id '{b}' differs from the path's '{id}'"),
                ));
            }
            _ => {
                obj.insert("id".into(), serde_json::Value::String(id.to_owned()));
            }
        }
    }
    let mut v: T = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    if let Some(id) = path_id {
        v.set_id(id.to_owned());
    }
    Ok(v)
}

async fn put<T: Entry>(
    state: &AppState,
    caller: Caller,
    mut v: T,
    mode: Put,
) -> ApiResult<T::View> {
    caller.require("iot")?;
    if !caller.0.admin
        && let Some(t) = v.owner()
        && t != caller.tenant()
    {
        return Err(ApiError::forbidden(format!(
            "this key belongs to tenant '{}' and cannot put a {} into tenant '{t}'",
            caller.tenant(),
            T::KIND
        )));
    }
    let (audit_caller, audit_id) = (caller.clone(), v.id().to_owned());
    let view = iot_service(state)?
        .call(move |e, now| {
            let existing = T::all(e).into_iter().find(|x| x.id() == v.id());
            match &existing {
                Some(x) if !visible(&caller, x.owner()) => {
                    return Err(IotError::conflict(
                        "already_exists",
                        format!("{} '{}' belongs to another tenant", T::KIND, v.id()),
                    ));
                }
                // An entry stays in its tenant; only an admin may name another one.
                Some(x) if !caller.0.admin || v.owner().is_none() => {
                    v.set_owner(x.owner().map(str::to_owned));
                }
                Some(_) => {}
                None if caller.0.admin && v.owner().is_some() => {}
                None => v.set_owner(Some(caller.tenant().to_owned())),
            }
            let stored = T::put(e, v, mode, now)?;
            Ok(T::view(e, &stored))
        })
        .await?;
    crate::routes::audit(
        state,
        &audit_caller,
        &format!("{}.put", T::KIND),
        &audit_id,
        serde_json::Value::Null,
    )
    .await;
    Ok(view)
}

async fn delete<T: Entry>(state: &AppState, caller: Caller, id: String) -> ApiResult<StatusCode> {
    caller.require("iot")?;
    let (audit_caller, audit_id) = (caller.clone(), id.clone());
    iot_service(state)?
        .call(
            move |e, now| match T::all(e).into_iter().find(|x| x.id() == id) {
                Some(x) if visible(&caller, x.owner()) => T::delete(e, &id, now),
                _ => Err(IotError::NotFound(format!("{} '{id}'", T::KIND))),
            },
        )
        .await?;
    crate::routes::audit(
        state,
        &audit_caller,
        &format!("{}.delete", T::KIND),
        &audit_id,
        serde_json::Value::Null,
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

macro_rules! handlers {
    ($ty:ty, $view:ty, $tag:literal, $path:literal, $item:literal,
     $list:ident, $create:ident, $get:ident, $replace:ident, $remove:ident) => {
        #[doc = concat!("All ", $tag, " the caller may see.")]
        #[utoipa::path(get, path = $path, tag = $tag,
            responses((status = 200, body = Vec<$view>)), security(("bearer" = [])))]
        pub async fn $list(
            State(state): State<Arc<AppState>>,
            caller: Caller,
        ) -> ApiResult<Json<Vec<$view>>> {
            Ok(Json(list::<$ty>(&state, caller).await?))
        }

        #[doc = concat!("Create one of the ", $tag, " (409 `already_exists` when the id is taken).")]
        #[utoipa::path(post, path = $path, tag = $tag, request_body = $ty,
            responses((status = 201, body = $view), (status = 400, body = ErrorBody),
                      (status = 409, body = ErrorBody)),
            security(("bearer" = [])))]
        pub async fn $create(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            crate::extract::JsonBody(body): crate::extract::JsonBody<serde_json::Value>,
        ) -> ApiResult<impl IntoResponse> {
            let v = parse::<$ty>(body, None)?;
            Ok((StatusCode::CREATED, Json(put(&state, caller, v, Put::Create).await?)))
        }

        #[doc = concat!("One of the ", $tag, ".")]
        #[utoipa::path(get, path = $item, tag = $tag, params(("id" = String, Path)),
            responses((status = 200, body = $view), (status = 404, body = ErrorBody)),
            security(("bearer" = [])))]
        pub async fn $get(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> ApiResult<Json<$view>> {
            Ok(Json(get::<$ty>(&state, caller, id).await?))
        }

        #[doc = concat!("Create or replace one of the ", $tag, ".")]
        #[utoipa::path(put, path = $item, tag = $tag, params(("id" = String, Path)),
            request_body = $ty,
            responses((status = 200, body = $view), (status = 400, body = ErrorBody),
                      (status = 409, body = ErrorBody)),
            security(("bearer" = [])))]
        pub async fn $replace(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            Path(id): Path<String>,
            crate::extract::JsonBody(body): crate::extract::JsonBody<serde_json::Value>,
        ) -> ApiResult<Json<$view>> {
            let v = parse::<$ty>(body, Some(&id))?;
            Ok(Json(put(&state, caller, v, Put::Replace).await?))
        }

        #[doc = concat!("Delete one of the ", $tag, " (409 `in_use` while something names it).")]
        #[utoipa::path(delete, path = $item, tag = $tag, params(("id" = String, Path)),
            responses((status = 204), (status = 404, body = ErrorBody),
                      (status = 409, body = ErrorBody)),
            security(("bearer" = [])))]
        pub async fn $remove(
            State(state): State<Arc<AppState>>,
            caller: Caller,
            Path(id): Path<String>,
        ) -> ApiResult<StatusCode> {
            delete::<$ty>(&state, caller, id).await
        }
    };
}

handlers!(
    Device,
    DeviceView,
    "devices",
    "/v1/devices",
    "/v1/devices/{id}",
    list_devices,
    create_device,
    get_device,
    put_device,
    delete_device
);
handlers!(
    Contact,
    smsgate_iot::view::ContactView,
    "contacts",
    "/v1/contacts",
    "/v1/contacts/{id}",
    list_contacts,
    create_contact,
    get_contact,
    put_contact,
    delete_contact
);
handlers!(
    Group,
    Group,
    "groups",
    "/v1/groups",
    "/v1/groups/{id}",
    list_groups,
    create_group,
    get_group,
    put_group,
    delete_group
);
handlers!(
    Rule,
    Rule,
    "rules",
    "/v1/rules",
    "/v1/rules/{id}",
    list_rules,
    create_rule,
    get_rule,
    put_rule,
    delete_rule
);
