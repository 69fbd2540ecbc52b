//! Provider functions, for `check` blocks and module `validation`: the
//! registry's own rules (from `partner-rules`) on plain values, without a
//! configured provider.
//!
//! `provider::partner::scopes_within`, `expiry_within_contract` and
//! `parse_client_id`.
use std::collections::BTreeMap;
use tfplugin::{Function, FunctionError, Parameter, Type, Value};

/// Every function of the provider.
pub fn all() -> Vec<Function> {
    vec![scopes_within(), expiry_within_contract(), parse_client_id()]
}

fn strings(v: &Value, index: usize, name: &str) -> Result<Vec<String>, FunctionError> {
    let items = match v {
        Value::Set(items) | Value::List(items) => items,
        _ => {
            return Err(FunctionError::argument(
                index,
                format!("{name} must be a set of strings"),
            ));
        }
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) if partner_rules::is_scope(s) => Ok(s.clone()),
            Value::String(s) => Err(FunctionError::argument(
                index,
                format!("{name} holds {s:?}, which is not a scope: 1 to 128 printable ASCII characters without spaces, quotes or backslashes"),
            )),
            _ => Err(FunctionError::argument(index, format!("{name} must hold strings, not null"))),
        })
        .collect()
}

fn string<'a>(v: &'a Value, index: usize, name: &str) -> Result<&'a str, FunctionError> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(FunctionError::argument(
            index,
            format!("{name} must be a string"),
        )),
    }
}

/// `scopes_within(client_scopes, allowed_scopes)`.
pub fn scopes_within() -> Function {
    Function::new("scopes_within", Type::Bool, |args| {
        let scopes = strings(&args[0], 0, "client_scopes")?;
        let allowed = strings(&args[1], 1, "allowed_scopes")?;
        Ok(Value::Bool(
            partner_rules::records::scopes_outside(&scopes, &allowed).is_empty(),
        ))
    })
    .summary("Whether a client's scopes are all among its org's allowed scopes")
    .description(
        "True when every scope of `client_scopes` is among `allowed_scopes`, the rule the \
         registry applies to every client of an org. An error names a value that is not a scope.",
    )
    .param(Parameter::new(
        "client_scopes",
        Type::set(Type::String),
        "The scopes a client asks for (a `partner_client`'s `scopes`).",
    ))
    .param(Parameter::new(
        "allowed_scopes",
        Type::set(Type::String),
        "The scopes its org allows (a `partner_org`'s `allowed_scopes`).",
    ))
}

/// `expiry_within_contract(expires_at, contract_end)`.
pub fn expiry_within_contract() -> Function {
    Function::new("expiry_within_contract", Type::Bool, |args| {
        let expires_at = string(&args[0], 0, "expires_at")?;
        let contract_end = string(&args[1], 1, "contract_end")?;
        let expiry = partner_rules::parse_timestamp(expires_at).ok_or_else(|| {
            FunctionError::argument(
                0,
                format!("expires_at {expires_at:?} is not an RFC 3339 timestamp such as 2027-06-30T00:00:00Z"),
            )
        })?;
        let end = partner_rules::end_of_day(contract_end).ok_or_else(|| {
            FunctionError::argument(
                1,
                format!("contract_end {contract_end:?} is not a date such as 2027-06-30"),
            )
        })?;
        let within = partner_rules::records::check_expiry(
            expiry.unix_timestamp(),
            end.unix_timestamp(),
            i64::MIN,
            true,
        )
        .is_ok();
        Ok(Value::Bool(within))
    })
    .summary("Whether an expiry lies within a contract")
    .description(
        "True when `expires_at` is no later than the end (`23:59:59Z`) of the `contract_end` day, \
         the bound the registry puts on every client's expiry. Whether it is still in the future \
         is not checked. An error names an argument that is not a timestamp or a date.",
    )
    .param(Parameter::new(
        "expires_at",
        Type::String,
        "An RFC 3339 timestamp (a `partner_client`'s `expires_at`).",
    ))
    .param(Parameter::new(
        "contract_end",
        Type::String,
        "A date `YYYY-MM-DD` (a `partner_org`'s `contract_end`).",
    ))
}

/// `parse_client_id(client_id)`.
pub fn parse_client_id() -> Function {
    let result = Type::object([("prefix", Type::String), ("random", Type::String)]);
    Function::new("parse_client_id", result, |args| {
        let client_id = string(&args[0], 0, "client_id")?;
        let random = partner_rules::parse_client_id(client_id).map_err(|e| {
            FunctionError::argument(0, format!("{client_id:?} is not a client_id: it {e}"))
        })?;
        Ok(Value::Object(BTreeMap::from([
            (
                "prefix".to_string(),
                Value::String(partner_rules::CLIENT_ID_PREFIX.to_string()),
            ),
            ("random".to_string(), Value::String(random.to_string())),
        ])))
    })
    .summary("Checks and splits a public client_id")
    .description(
        "Splits a `client_id` the registry issued (`pc_` and 24 letters and digits) into its \
         `prefix` and `random` parts; an error when the value is not a client_id (a record `id` \
         such as `cli_…`, or a secret pasted by mistake). Use it in `validation` of module \
         variables that take a client_id.",
    )
    .param(Parameter::new(
        "client_id",
        Type::String,
        "A public client_id such as `pc_4fQx…`.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> Value {
        Value::Set(items.iter().map(|s| Value::String(s.to_string())).collect())
    }

    #[test]
    fn scopes_within_follows_the_rule() {
        let f = scopes_within();
        let call = |a, b| (f.call)(&[a, b]);
        assert_eq!(
            call(set(&["a:r"]), set(&["a:r", "a:w"])),
            Ok(Value::Bool(true))
        );
        assert_eq!(call(set(&["a:x"]), set(&["a:r"])), Ok(Value::Bool(false)));
        assert_eq!(
            call(set(&["bad scope"]), set(&[])).unwrap_err().argument,
            Some(0)
        );
    }

    #[test]
    fn expiry_within_contract_uses_the_end_of_the_day() {
        let f = expiry_within_contract();
        let s = |x: &str| Value::String(x.into());
        let call = |a: &str, b: &str| (f.call)(&[s(a), s(b)]);
        assert_eq!(
            call("2027-06-30T23:59:59Z", "2027-06-30"),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            call("2027-07-01T00:00:00Z", "2027-06-30"),
            Ok(Value::Bool(false))
        );
        assert_eq!(call("soon", "2027-06-30").unwrap_err().argument, Some(0));
        assert_eq!(
            call("2027-07-01T00:00:00Z", "June").unwrap_err().argument,
            Some(1)
        );
    }

    #[test]
    fn parse_client_id_refuses_other_ids() {
        let f = parse_client_id();
        let ok = (f.call)(&[Value::String(format!("pc_{}", "a".repeat(24)))]).unwrap();
        assert_eq!(ok.get("random"), &Value::String("a".repeat(24)));
        assert!((f.call)(&[Value::String("cli_abc".into())]).is_err());
    }
}
