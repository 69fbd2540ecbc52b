//! The tfplugin6 Provider service on top of the typed layer. Each RPC
//! decodes its values, runs the typed layer and encodes the result; user
//! mistakes come back as diagnostics, never as gRPC errors. No lock is held
//! across an RPC: the configured state is an `Arc` cloned at the start.
// `diagnostics_only!` fills whichever fields a response has besides its diagnostics.
#![allow(clippy::needless_update)]

use super::catalogue::{ByName, Catalogue};
use super::convert::{self, decode, encode};
use super::tfplugin6 as pb;
use crate::provider::{Provider, ProviderInfo};
use crate::{Context, Diagnostics, Value, engine};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

pub struct ProviderService<P: Provider> {
    provider: P,
    info: ProviderInfo,
    reg: Catalogue<P::Data>,
    ctx: RwLock<Arc<Context<P::Data>>>,
    /// Set by StopProvider; calls in flight give up on it.
    stop: tokio::sync::watch::Sender<bool>,
}

impl<P: Provider> ProviderService<P> {
    pub fn new(provider: P, info: ProviderInfo) -> Self {
        ProviderService {
            reg: Catalogue::of(&provider),
            provider,
            info,
            ctx: RwLock::new(Arc::new(Context::unconfigured())),
            stop: tokio::sync::watch::Sender::new(false),
        }
    }
    fn ctx(&self) -> Arc<Context<P::Data>> {
        self.ctx
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|_| Arc::new(Context::unconfigured()))
    }
    /// The events of one ListResource call: one per object found (its
    /// identity, display name and, when asked for, its state), then the
    /// diagnostics, if any, in an event of their own.
    async fn list_events(&self, req: pb::list_resource::Request) -> Vec<pb::list_resource::Event> {
        let only_diags = |diagnostic| pb::list_resource::Event {
            diagnostic,
            ..Default::default()
        };
        let Some((l, schema)) = self.reg.lists.get(req.type_name.as_str()) else {
            return vec![only_diags(
                self.unknown_type("list resource", &req.type_name),
            )];
        };
        let Some((r, rschema)) = self.reg.resources.get(req.type_name.as_str()) else {
            return vec![only_diags(self.unknown_type("resource", &req.type_name))];
        };
        let config = match decode(req.config.as_ref(), &schema.ty()) {
            Ok(v) => v,
            Err(e) => return vec![only_diags(bad_value("list configuration", e))],
        };
        let limit = usize::try_from(req.limit)
            .ok()
            .filter(|l| *l > 0)
            .unwrap_or(usize::MAX);
        let ctx = self.ctx();
        let (items, d) = l.list(&ctx, config, limit).await;
        let rty = rschema.ty();
        let mut events: Vec<_> = items
            .into_iter()
            .map(|item| {
                let mut diagnostic = vec![];
                let mut state = item.state.conform(&rty);
                engine::null_write_only(rschema, &mut state);
                let identity = identity_data(r.as_ref(), rschema, &state, &mut diagnostic);
                let resource_object = if req.include_resource_object {
                    encode_result(&state, &rty, &mut diagnostic)
                } else {
                    None
                };
                pb::list_resource::Event {
                    identity,
                    display_name: item.display_name,
                    resource_object,
                    diagnostic,
                }
            })
            .collect();
        if !d.is_empty() {
            events.push(only_diags(convert::diags(d)));
        }
        events
    }
    fn functions(&self) -> std::collections::HashMap<String, pb::Function> {
        self.reg
            .functions
            .iter()
            .map(|(k, f)| (k.to_string(), convert::function(f)))
            .collect()
    }
    /// The type `name` in `by_name` with its schema, refused as an unknown
    /// `kind` when the provider has none.
    fn find<'m, T: ?Sized>(
        &self,
        by_name: &'m ByName<T>,
        kind: &str,
        name: &str,
    ) -> Result<&'m (Arc<T>, crate::Schema), Refusal> {
        by_name
            .get(name)
            .ok_or_else(|| self.unknown_type(kind, name))
    }
    /// The diagnostics of validating `config` as the `kind` named `name`:
    /// the type found, the value decoded against its schema (refused as an
    /// invalid `what`), then `check` run on it.
    fn validated<T: ?Sized, R: DiagnosticsOnly>(
        &self,
        by_name: &ByName<T>,
        (kind, what): (&str, &str),
        name: &str,
        config: Option<&pb::DynamicValue>,
        check: impl FnOnce(&T, &crate::Schema, &Value, &mut Diagnostics),
    ) -> Rpc<R> {
        let diagnostics = self.find(by_name, kind, name).and_then(|(found, schema)| {
            let config = decoded(config, &schema.ty(), what)?;
            let mut d = Diagnostics::new();
            check(found, schema, &config, &mut d);
            Ok(convert::diags(d))
        });
        Ok(Response::new(R::only(
            diagnostics.unwrap_or_else(|refusal| refusal),
        )))
    }
    /// The provider block's configuration, decoded against its schema.
    fn provider_config(&self, config: Option<&pb::DynamicValue>) -> Result<Value, Refusal> {
        decoded(
            config,
            &self.reg.provider_schema.ty(),
            "provider configuration",
        )
    }
    fn unknown_type(&self, kind: &str, name: &str) -> Vec<pb::Diagnostic> {
        convert::error(
            &format!("Unknown {kind} type"),
            format!(
                "The {} provider has no {kind} named {name:?}.",
                self.info.name
            ),
        )
    }
}

type Rpc<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn bad_value(what: &str, e: String) -> Vec<pb::Diagnostic> {
    convert::error(
        &format!("Invalid {what}"),
        format!("The provider could not decode the {what}: {e}"),
    )
}

/// What stops an RPC before its work: the diagnostics it answers with.
type Refusal = Vec<pb::Diagnostic>;

/// A response that can carry diagnostics and nothing else: a [`Refusal`],
/// or the whole answer of a validation.
trait DiagnosticsOnly {
    fn only(diagnostics: Vec<pb::Diagnostic>) -> Self;
}

macro_rules! diagnostics_only {
    ($($rpc:ident),* $(,)?) => {
        $(impl DiagnosticsOnly for pb::$rpc::Response {
            fn only(diagnostics: Vec<pb::Diagnostic>) -> Self {
                pb::$rpc::Response {
                    diagnostics,
                    ..Default::default()
                }
            }
        })*
    };
}

diagnostics_only!(
    validate_provider_config,
    validate_resource_config,
    validate_data_resource_config,
    validate_ephemeral_resource_config,
    upgrade_resource_state,
    upgrade_resource_identity,
    configure_provider,
    read_resource,
    plan_resource_change,
    apply_resource_change,
    import_resource_state,
    read_data_source,
    generate_resource_config,
    open_ephemeral_resource,
    validate_list_resource_config,
    plan_action,
    validate_action_config,
);

/// The answer of an RPC: its response, or the response holding only what
/// refused it.
fn answer<R: DiagnosticsOnly>(body: Result<R, Refusal>) -> Rpc<R> {
    Ok(Response::new(body.unwrap_or_else(R::only)))
}

/// `decode` of a value Terraform sent, refused as an invalid `what`.
fn decoded(v: Option<&pb::DynamicValue>, ty: &crate::Type, what: &str) -> Result<Value, Refusal> {
    decode(v, ty).map_err(|e| bad_value(what, e))
}

/// Refuses each write-only attribute set in `config`: Terraform before 1.11
/// would keep its value in the state.
fn refuse_write_only(schema: &crate::Schema, config: &Value, d: &mut Diagnostics) {
    for a in schema.attributes.iter().filter(|a| a.write_only) {
        if !config.get(&a.name).is_null() {
            d.error_at(
                crate::AttrPath::attr(a.name.clone()),
                "Write-only attribute not supported",
                format!(
                    "{} is write-only, which needs Terraform 1.11 or later.",
                    a.name
                ),
            );
        }
    }
}

fn encode_result(
    v: &Value,
    ty: &crate::Type,
    d: &mut Vec<pb::Diagnostic>,
) -> Option<pb::DynamicValue> {
    match encode(v, ty) {
        Ok(x) => Some(x),
        Err(e) => {
            d.extend(convert::error(
                "Provider produced an invalid result",
                format!("The value could not be encoded: {e}. This is a bug in the provider."),
            ));
            None
        }
    }
}

/// The identity of `state` as Terraform stores it; `None` for a resource
/// without identity or a null state.
fn identity_data<D>(
    r: &dyn crate::resource::DynResource<D>,
    schema: &crate::Schema,
    state: &Value,
    d: &mut Vec<pb::Diagnostic>,
) -> Option<pb::ResourceIdentityData> {
    let attrs = r.identity_attributes();
    if attrs.is_empty() || state.is_null() {
        return None;
    }
    let ty = engine::identity_type(schema, attrs);
    encode_result(&engine::identity_of(attrs, state), &ty, d).map(|v| pb::ResourceIdentityData {
        identity_data: Some(v),
    })
}

/// What a read or an apply answers about the state it leaves: the state
/// and its identity encoded, and the diagnostics, to which an error is added
/// when that identity is not the one Terraform `sent`.
fn resulting_state<D>(
    r: &dyn crate::resource::DynResource<D>,
    schema: &crate::Schema,
    sent: &Value,
    state: &Value,
    mut d: Diagnostics,
) -> (
    Option<pb::DynamicValue>,
    Option<pb::ResourceIdentityData>,
    Vec<pb::Diagnostic>,
) {
    let identity = engine::identity_of(r.identity_attributes(), state);
    engine::check_identity(r.type_name(), sent, &identity, &mut d);
    let mut diagnostics = convert::diags(d);
    let encoded = encode_result(state, &schema.ty(), &mut diagnostics);
    let identity = identity_data(r, schema, state, &mut diagnostics);
    (encoded, identity, diagnostics)
}

/// The identity Terraform sent for a resource; null when it sent none (or
/// the resource has no identity).
fn sent_identity<D>(
    r: &dyn crate::resource::DynResource<D>,
    schema: &crate::Schema,
    sent: Option<&pb::ResourceIdentityData>,
) -> Result<Value, String> {
    let attrs = r.identity_attributes();
    if attrs.is_empty() {
        return Ok(Value::Null);
    }
    decode(
        sent.and_then(|i| i.identity_data.as_ref()),
        &engine::identity_type(schema, attrs),
    )
}

fn server_capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        // Every RPC works without a GetProviderSchema call first (the schemas are
        // built once at start), so Terraform may skip it on provider instances
        // after the first and use the schema it cached.
        get_provider_schema_optional: true,
        move_resource_state: false,
        generate_resource_config: true,
    }
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        use pb::get_metadata as m;
        Ok(Response::new(m::Response {
            server_capabilities: Some(server_capabilities()),
            resources: self
                .reg
                .resources
                .keys()
                .map(|k| m::ResourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            data_sources: self
                .reg
                .data_sources
                .keys()
                .map(|k| m::DataSourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            ephemeral_resources: self
                .reg
                .ephemerals
                .keys()
                .map(|k| m::EphemeralMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            list_resources: self
                .reg
                .lists
                .keys()
                .map(|k| m::ListResourceMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            actions: self
                .reg
                .actions
                .keys()
                .map(|k| m::ActionMetadata {
                    type_name: k.to_string(),
                })
                .collect(),
            functions: self
                .reg
                .functions
                .keys()
                .map(|k| m::FunctionMetadata {
                    name: k.to_string(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        Ok(Response::new(pb::get_provider_schema::Response {
            provider: Some(convert::schema(&self.reg.provider_schema)),
            resource_schemas: self
                .reg
                .resources
                .iter()
                .map(|(k, (_, s))| (k.to_string(), convert::schema(s)))
                .collect(),
            data_source_schemas: self
                .reg
                .data_sources
                .iter()
                .map(|(k, (_, s))| (k.to_string(), convert::schema(s)))
                .collect(),
            ephemeral_resource_schemas: self
                .reg
                .ephemerals
                .iter()
                .map(|(k, (_, s))| (k.to_string(), convert::schema(s)))
                .collect(),
            list_resource_schemas: self
                .reg
                .lists
                .iter()
                .map(|(k, (_, s))| (k.to_string(), convert::schema(s)))
                .collect(),
            action_schemas: self
                .reg
                .actions
                .iter()
                .map(|(k, (_, s))| {
                    (
                        k.to_string(),
                        pb::ActionSchema {
                            schema: Some(convert::schema(s)),
                        },
                    )
                })
                .collect(),
            functions: self.functions(),
            server_capabilities: Some(server_capabilities()),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let req = req.into_inner();
        let diagnostics = self.provider_config(req.config.as_ref()).map(|config| {
            let mut d = Diagnostics::new();
            self.provider.validate(&config, &mut d);
            convert::diags(d)
        });
        answer(
            diagnostics.map(|diagnostics| pb::validate_provider_config::Response { diagnostics }),
        )
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let req = req.into_inner();
        let wo_allowed = req
            .client_capabilities
            .as_ref()
            .is_some_and(|c| c.write_only_attributes_allowed);
        self.validated(
            &self.reg.resources,
            ("resource", "configuration"),
            &req.type_name,
            req.config.as_ref(),
            |r, schema, config, d| {
                if !wo_allowed {
                    refuse_write_only(schema, config, d);
                }
                r.validate(config, d)
            },
        )
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let req = req.into_inner();
        self.validated(
            &self.reg.data_sources,
            ("data source", "configuration"),
            &req.type_name,
            req.config.as_ref(),
            |ds, _, config, d| ds.validate(config, d),
        )
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        let req = req.into_inner();
        self.validated(
            &self.reg.ephemerals,
            ("ephemeral resource", "configuration"),
            &req.type_name,
            req.config.as_ref(),
            |e, _, config, d| e.validate(config, d),
        )
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let response = async {
            let (_, schema) = self.find(&self.reg.resources, "resource", &req.type_name)?;
            let ty = schema.ty();
            let raw = req.raw_state.unwrap_or_default();
            if raw.json.is_empty() {
                return Err(convert::error(
                    "Unsupported state format",
                    "The stored state has no JSON form (flatmap state from Terraform 0.11 is not supported).",
                ));
            }
            if req.version > schema.version {
                return Err(convert::error(
                    "State from a newer provider",
                    format!(
                        "The stored state has schema version {}, newer than this provider's {}. Upgrade the provider.",
                        req.version, schema.version
                    ),
                ));
            }
            let mut diagnostics = vec![];
            let upgraded_state = match crate::json::decode(&raw.json, &ty) {
                Ok(mut v) => {
                    engine::null_write_only(schema, &mut v);
                    encode_result(&v, &ty, &mut diagnostics)
                }
                Err(e) => {
                    diagnostics = bad_value("stored state", e);
                    None
                }
            };
            Ok(pb::upgrade_resource_state::Response {
                upgraded_state,
                diagnostics,
            })
        }
        .await;
        answer(response)
    }

    async fn get_resource_identity_schemas(
        &self,
        _: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Rpc<pb::get_resource_identity_schemas::Response> {
        use pb::resource_identity_schema::IdentityAttribute;
        let identity_schemas = self
            .reg
            .resources
            .iter()
            .filter(|(_, (r, _))| !r.identity_attributes().is_empty())
            .map(|(k, (r, schema))| {
                let attrs = r
                    .identity_attributes()
                    .iter()
                    .filter_map(|name| schema.attribute(name))
                    .map(|a| IdentityAttribute {
                        name: a.name.clone(),
                        r#type: a.ty.to_json_bytes(),
                        required_for_import: true,
                        optional_for_import: false,
                        description: a.description.clone(),
                    })
                    .collect();
                (
                    k.to_string(),
                    pb::ResourceIdentitySchema {
                        version: 0,
                        identity_attributes: attrs,
                    },
                )
            })
            .collect();
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas,
            diagnostics: vec![],
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        req: Request<pb::upgrade_resource_identity::Request>,
    ) -> Rpc<pb::upgrade_resource_identity::Response> {
        let req = req.into_inner();
        let response = async {
            let (r, schema) = self.find(&self.reg.resources, "resource", &req.type_name)?;
            let ty = engine::identity_type(schema, r.identity_attributes());
            let raw = req.raw_identity.unwrap_or_default();
            let mut diagnostics = vec![];
            if req.version != 0 {
                diagnostics = convert::error(
                    "Identity from a newer provider",
                    format!(
                        "The stored identity has version {}, this provider knows version 0. Upgrade the provider.",
                        req.version
                    ),
                );
            }
            let upgraded_identity = match crate::json::decode(&raw.json, &ty) {
                Ok(v) if diagnostics.is_empty() => {
                    encode_result(&v, &ty, &mut diagnostics).map(|v| pb::ResourceIdentityData {
                        identity_data: Some(v),
                    })
                }
                Ok(_) => None,
                Err(e) => {
                    diagnostics = bad_value("stored identity", e);
                    None
                }
            };
            Ok(pb::upgrade_resource_identity::Response {
                upgraded_identity,
                diagnostics,
            })
        }
        .await;
        answer(response)
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let req = req.into_inner();
        let response = async {
            let config = self.provider_config(req.config.as_ref())?;
            let mut d = Diagnostics::new();
            let configured = self
                .provider
                .configure(&config, self.stop.subscribe(), &mut d)
                .await;
            if let Some(data) = configured {
                if let Ok(mut g) = self.ctx.write() {
                    *g = Arc::new(Context::configured(data));
                }
            }
            Ok(pb::configure_provider::Response {
                diagnostics: convert::diags(d),
            })
        }
        .await;
        answer(response)
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let req = req.into_inner();
        let response = async {
            let (r, schema) = self.find(&self.reg.resources, "resource", &req.type_name)?;
            let ty = schema.ty();
            let state = decoded(req.current_state.as_ref(), &ty, "current state")?;
            let current = sent_identity(r.as_ref(), schema, req.current_identity.as_ref())
                .map_err(|e| bad_value("current identity", e))?;
            let ctx = self.ctx().for_instance(&req.private);
            let (new, d) = engine::read(r.as_ref(), schema, &ctx, state).await;
            let (new_state, new_identity, diagnostics) =
                resulting_state(r.as_ref(), schema, &current, &new, d);
            Ok(pb::read_resource::Response {
                new_state,
                diagnostics,
                private: ctx.private().to_bytes(),
                new_identity,
                ..Default::default()
            })
        }
        .await;
        answer(response)
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let response = async {
            let (r, schema) = self.find(&self.reg.resources, "resource", &req.type_name)?;
            let ty = schema.ty();
            let prior = decoded(req.prior_state.as_ref(), &ty, "prior state")?;
            let proposed = decoded(req.proposed_new_state.as_ref(), &ty, "proposed new state")?;
            let config = decoded(req.config.as_ref(), &ty, "configuration")?;
            let prior_identity = sent_identity(r.as_ref(), schema, req.prior_identity.as_ref())
                .map_err(|e| bad_value("prior identity", e))?;
            let ctx = self.ctx().for_instance(&req.prior_private);
            let out = engine::plan(r.as_ref(), schema, &ctx, prior, proposed, config).await;
            let mut diagnostics = convert::diags(out.diags);
            let planned_state = encode_result(&out.planned, &ty, &mut diagnostics);
            // An update keeps the identity; a create learns it from the apply.
            let planned_identity = if out.planned.is_null() || !out.requires_replace.is_empty() {
                None
            } else {
                req.prior_identity.filter(|_| !prior_identity.is_null())
            };
            Ok(pb::plan_resource_change::Response {
                planned_identity,
                planned_state,
                requires_replace: out
                    .requires_replace
                    .into_iter()
                    .map(convert::path)
                    .collect(),
                planned_private: ctx.private().to_bytes(),
                diagnostics,
                ..Default::default()
            })
        }
        .await;
        answer(response)
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        let response = async {
            let (r, schema) = self.find(&self.reg.resources, "resource", &req.type_name)?;
            let ty = schema.ty();
            let prior = decoded(req.prior_state.as_ref(), &ty, "prior state")?;
            let planned = decoded(req.planned_state.as_ref(), &ty, "planned state")?;
            let config = decoded(req.config.as_ref(), &ty, "configuration")?;
            let planned_identity = sent_identity(r.as_ref(), schema, req.planned_identity.as_ref())
                .map_err(|e| bad_value("planned identity", e))?;
            let ctx = self.ctx().for_instance(&req.planned_private);
            let (new, d) = engine::apply(r.as_ref(), schema, &ctx, prior, planned, config).await;
            let (new_state, new_identity, diagnostics) =
                resulting_state(r.as_ref(), schema, &planned_identity, &new, d);
            Ok(pb::apply_resource_change::Response {
                new_identity,
                new_state,
                private: ctx.private().to_bytes(),
                diagnostics,
                ..Default::default()
            })
        }
        .await;
        answer(response)
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let response = async {
            let (r, schema) = self.find(&self.reg.resources, "resource", &req.type_name)?;
            let ty = schema.ty();
            let identity = sent_identity(r.as_ref(), schema, req.identity.as_ref())
                .map_err(|e| bad_value("identity to import", e))?;
            let mut d = Diagnostics::new();
            let id = if req.id.is_empty() && !identity.is_null() {
                engine::import_id_from_identity(&identity, &mut d)
            } else {
                Some(req.id.clone())
            };
            let ctx = self.ctx().for_instance(&[]);
            let state = match id {
                Some(id) => {
                    let (state, more) = engine::import(r.as_ref(), schema, &ctx, &id).await;
                    d.extend(more);
                    let new_id = engine::identity_of(r.identity_attributes(), &state);
                    engine::check_identity(r.type_name(), &identity, &new_id, &mut d);
                    state
                }
                None => Value::Null,
            };
            let mut diagnostics = convert::diags(d);
            let imported_resources = if state.is_null() {
                vec![]
            } else {
                vec![pb::import_resource_state::ImportedResource {
                    type_name: req.type_name.clone(),
                    state: encode_result(&state, &ty, &mut diagnostics),
                    identity: identity_data(r.as_ref(), schema, &state, &mut diagnostics),
                    private: ctx.private().to_bytes(),
                }]
            };
            Ok(pb::import_resource_state::Response {
                imported_resources,
                diagnostics,
                ..Default::default()
            })
        }
        .await;
        answer(response)
    }

    async fn move_resource_state(
        &self,
        _: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        Err(Status::unimplemented(
            "moving resource state is not supported by this provider",
        ))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let req = req.into_inner();
        let response = async {
            let (ds, schema) = self.find(&self.reg.data_sources, "data source", &req.type_name)?;
            let ty = schema.ty();
            let config = decoded(req.config.as_ref(), &ty, "configuration")?;
            let ctx = self.ctx();
            let (v, d) = engine::read_data(ds.as_ref(), schema, &ctx, config).await;
            let mut diagnostics = convert::diags(d);
            let state = encode_result(&v, &ty, &mut diagnostics);
            Ok(pb::read_data_source::Response {
                state,
                diagnostics,
                ..Default::default()
            })
        }
        .await;
        answer(response)
    }

    async fn generate_resource_config(
        &self,
        req: Request<pb::generate_resource_config::Request>,
    ) -> Rpc<pb::generate_resource_config::Response> {
        let req = req.into_inner();
        let response = async {
            let (r, schema) = self.find(&self.reg.resources, "resource", &req.type_name)?;
            let ty = schema.ty();
            let state = decoded(req.state.as_ref(), &ty, "state")?;
            let mut diagnostics = vec![];
            let generated = engine::generate_config(r.as_ref(), schema, &state);
            let config = encode_result(&generated, &ty, &mut diagnostics);
            Ok(pb::generate_resource_config::Response {
                config,
                diagnostics,
            })
        }
        .await;
        answer(response)
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        let req = req.into_inner();
        let response = async {
            let (e, schema) =
                self.find(&self.reg.ephemerals, "ephemeral resource", &req.type_name)?;
            let ty = schema.ty();
            let config = decoded(req.config.as_ref(), &ty, "configuration")?;
            let ctx = self.ctx();
            let (v, d) = engine::open_ephemeral(e.as_ref(), schema, &ctx, config).await;
            let mut diagnostics = convert::diags(d);
            let result = encode_result(&v, &ty, &mut diagnostics);
            Ok(pb::open_ephemeral_resource::Response {
                result,
                diagnostics,
                ..Default::default()
            })
        }
        .await;
        answer(response)
    }

    async fn renew_ephemeral_resource(
        &self,
        _: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        // No renew_at is ever returned, so Terraform has nothing to renew.
        Ok(Response::new(
            pb::renew_ephemeral_resource::Response::default(),
        ))
    }

    async fn close_ephemeral_resource(
        &self,
        _: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        Ok(Response::new(
            pb::close_ephemeral_resource::Response::default(),
        ))
    }

    type ListResourceStream = BoxStream<pb::list_resource::Event>;
    async fn list_resource(
        &self,
        req: Request<pb::list_resource::Request>,
    ) -> Rpc<Self::ListResourceStream> {
        let req = req.into_inner();
        let events = self.list_events(req).await;
        Ok(Response::new(Box::pin(tokio_stream::iter(
            events.into_iter().map(Ok),
        ))))
    }

    async fn validate_list_resource_config(
        &self,
        req: Request<pb::validate_list_resource_config::Request>,
    ) -> Rpc<pb::validate_list_resource_config::Response> {
        let req = req.into_inner();
        self.validated(
            &self.reg.lists,
            ("list resource", "list configuration"),
            &req.type_name,
            req.config.as_ref(),
            |l, _, config, d| l.validate(config, d),
        )
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Rpc<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response {
            functions: self.functions(),
            diagnostics: vec![],
        }))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> Rpc<pb::call_function::Response> {
        let req = req.into_inner();
        let fail = |e: crate::FunctionError| {
            Ok(Response::new(pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError {
                    text: e.text,
                    function_argument: e.argument,
                }),
            }))
        };
        let Some(f) = self.reg.functions.get(req.name.as_str()) else {
            return fail(crate::FunctionError::new(format!(
                "The {} provider has no function named {:?}.",
                self.info.name, req.name
            )));
        };
        if req.arguments.len() != f.parameters.len() {
            return fail(crate::FunctionError::new(format!(
                "{} takes {} arguments, not {}.",
                f.name,
                f.parameters.len(),
                req.arguments.len()
            )));
        }
        let mut args = Vec::with_capacity(req.arguments.len());
        for (i, (a, p)) in req.arguments.iter().zip(&f.parameters).enumerate() {
            match decode(Some(a), &p.ty) {
                Ok(v) => args.push(v),
                Err(e) => {
                    return fail(crate::FunctionError::argument(
                        i,
                        format!("Invalid value for {}: {e}", p.name),
                    ));
                }
            }
        }
        match (f.call)(&args) {
            Ok(v) => match encode(&v.conform(&f.returns), &f.returns) {
                Ok(result) => Ok(Response::new(pb::call_function::Response {
                    result: Some(result),
                    error: None,
                })),
                Err(e) => fail(crate::FunctionError::new(format!(
                    "The result could not be encoded: {e}. This is a bug in the provider."
                ))),
            },
            Err(e) => fail(e),
        }
    }

    async fn validate_state_store_config(
        &self,
        _: Request<pb::validate_state_store::Request>,
    ) -> Rpc<pb::validate_state_store::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }
    async fn configure_state_store(
        &self,
        _: Request<pb::configure_state_store::Request>,
    ) -> Rpc<pb::configure_state_store::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }
    type ReadStateBytesStream = BoxStream<pb::read_state_bytes::Response>;
    async fn read_state_bytes(
        &self,
        _: Request<pb::read_state_bytes::Request>,
    ) -> Rpc<Self::ReadStateBytesStream> {
        Err(Status::unimplemented("this provider has no state stores"))
    }
    async fn write_state_bytes(
        &self,
        _: Request<tonic::Streaming<pb::write_state_bytes::RequestChunk>>,
    ) -> Rpc<pb::write_state_bytes::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }
    async fn lock_state(
        &self,
        _: Request<pb::lock_state::Request>,
    ) -> Rpc<pb::lock_state::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }
    async fn unlock_state(
        &self,
        _: Request<pb::unlock_state::Request>,
    ) -> Rpc<pb::unlock_state::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }
    async fn get_states(
        &self,
        _: Request<pb::get_states::Request>,
    ) -> Rpc<pb::get_states::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }
    async fn delete_state(
        &self,
        _: Request<pb::delete_state::Request>,
    ) -> Rpc<pb::delete_state::Response> {
        Err(Status::unimplemented("this provider has no state stores"))
    }
    async fn plan_action(
        &self,
        req: Request<pb::plan_action::Request>,
    ) -> Rpc<pb::plan_action::Response> {
        let req = req.into_inner();
        let response = async {
            let (a, schema) = self.find(&self.reg.actions, "action", &req.action_type)?;
            let config = decoded(req.config.as_ref(), &schema.ty(), "action configuration")?;
            let ctx = self.ctx();
            let d = a.plan(&ctx, config).await;
            Ok(pb::plan_action::Response {
                diagnostics: convert::diags(d),
                deferred: None,
            })
        }
        .await;
        answer(response)
    }
    type InvokeActionStream = BoxStream<pb::invoke_action::Event>;
    async fn invoke_action(
        &self,
        req: Request<pb::invoke_action::Request>,
    ) -> Rpc<Self::InvokeActionStream> {
        use pb::invoke_action::event::{Completed, Progress, Type};
        let req = req.into_inner();
        let completed = |diagnostics| pb::invoke_action::Event {
            r#type: Some(Type::Completed(Completed { diagnostics })),
        };
        let once = |event| -> Rpc<Self::InvokeActionStream> {
            Ok(Response::new(Box::pin(tokio_stream::iter([Ok(event)]))))
        };
        let Some((a, schema)) = self.reg.actions.get(req.action_type.as_str()) else {
            return once(completed(self.unknown_type("action", &req.action_type)));
        };
        let config = match decode(req.config.as_ref(), &schema.ty()) {
            Ok(v) => v,
            Err(e) => return once(completed(bad_value("action configuration", e))),
        };
        let (a, ctx) = (a.clone(), self.ctx());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let (events, out) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let progress = crate::action::Progress::new(tx);
            let run = a.invoke(&ctx, config, progress);
            tokio::pin!(run);
            let diags = loop {
                tokio::select! {
                    d = &mut run => break d,
                    Some(message) = rx.recv() => {
                        let _ = events.send(Ok(pb::invoke_action::Event {
                            r#type: Some(Type::Progress(Progress { message })),
                        }));
                    }
                }
            };
            while let Ok(message) = rx.try_recv() {
                let _ = events.send(Ok(pb::invoke_action::Event {
                    r#type: Some(Type::Progress(Progress { message })),
                }));
            }
            let _ = events.send(Ok(completed(convert::diags(diags))));
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::UnboundedReceiverStream::new(out),
        )))
    }
    async fn validate_action_config(
        &self,
        req: Request<pb::validate_action_config::Request>,
    ) -> Rpc<pb::validate_action_config::Response> {
        let req = req.into_inner();
        self.validated(
            &self.reg.actions,
            ("action", "action configuration"),
            &req.type_name,
            req.config.as_ref(),
            |a, _, config, d| a.validate(config, d),
        )
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        self.stop.send_replace(true);
        Ok(Response::new(pb::stop_provider::Response::default()))
    }
}
