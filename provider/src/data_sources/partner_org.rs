//! Data source `partner_org`: one org looked up by name or id.
use crate::configured::{Configured, Context};
use crate::report::report;
use crate::resources::partner_org::{self, OrgModel, find_org, model_from};
use tfplugin::{AttrPath, Attribute, DataSource, Declaration, Diagnostics, Schema};

pub struct PartnerOrgData;

impl Declaration for PartnerOrgData {
    type Model = OrgModel;

    fn type_name(&self) -> &'static str {
        partner_org::TYPE_NAME
    }

    /// Every attribute of the resource, read-only, with `id` and `name` as
    /// the two ways to look an org up.
    fn schema(&self) -> Schema {
        let mut schema = Schema::new(
            "Looks up one partner organisation by `name` or by `id` (exactly one of them) and exposes \
             every attribute of the [`partner_org` resource](../resources/partner_org.md).",
        );
        for attribute in partner_org::schema().attributes {
            let lookup = matches!(attribute.name.as_str(), "id" | "name");
            let description = match attribute.name.as_str() {
                "id" => {
                    "The org's identifier: set it, or `name`, to say which org to look up.".into()
                }
                "name" => "The org's name: set it, or `id`, to say which org to look up.".into(),
                _ => attribute.description,
            };
            schema = schema.attr(Attribute {
                description,
                required: false,
                optional: lookup,
                computed: true,
                requires_replace: false,
                use_state_for_unknown: false,
                ..attribute
            });
        }
        schema
    }

    fn validate(&self, config: &OrgModel, d: &mut Diagnostics) {
        if config.id.is_null() && config.name.is_null() {
            d.error(
                "Missing lookup key",
                "Set `name` or `id` to say which partner org to look up.",
            );
        }
        if config.id.is_known() && config.name.is_known() {
            d.error_at(
                AttrPath::attr("name"),
                "Conflicting lookup keys",
                "Set either `name` or `id`, not both.",
            );
        }
    }
}

impl DataSource<Configured> for PartnerOrgData {
    async fn read(
        &self,
        ctx: &Context,
        config: OrgModel,
        diags: &mut Diagnostics,
    ) -> Option<OrgModel> {
        let api = &ctx.require_data(diags)?.api;
        let (key, attribute) = match (config.id.as_deref(), config.name.as_deref()) {
            (Some(id), _) => (id.to_string(), "id"),
            (None, Some(name)) => (name.to_string(), "name"),
            (None, None) => return None,
        };
        let found = match attribute {
            "id" => api.get_org(&key).await,
            _ => find_org(api, &key).await,
        };
        match found {
            Ok(Some(org)) => Some(model_from(org, None)),
            Ok(None) => {
                diags.error_at(
                    AttrPath::attr(attribute),
                    "Partner org not found",
                    format!(
                        "The registry at {} has no org with {attribute} {key:?}.",
                        api.endpoint()
                    ),
                );
                None
            }
            Err(e) => {
                report(diags, "Cannot read the partner org", &e, &[]);
                None
            }
        }
    }
}
