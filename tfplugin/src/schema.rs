//! Schemas: what a provider, resource, data source or ephemeral resource
//! accepts and returns, and how the plan treats each attribute.
use super::value::Type;

/// One attribute of a schema, built fluently:
/// `Attribute::string("org_id").required().requires_replace().description("...")`.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    /// Protocol 6.8+: accepted in config, never stored in plan or state.
    pub write_only: bool,
    pub deprecated: bool,
    /// Plan modifier: a change of this attribute replaces the resource.
    pub requires_replace: bool,
    /// Plan modifier: a computed attribute keeps its prior value in an
    /// update plan instead of becoming unknown.
    pub use_state_for_unknown: bool,
}

/// The builder methods that switch one of an attribute's flags on, each
/// named as its flag.
macro_rules! flag_setters {
    ($($flag:ident),* $(,)?) => {
        $(pub fn $flag(mut self) -> Self {
            self.$flag = true;
            self
        })*
    };
}

impl Attribute {
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        Attribute {
            name: name.into(),
            ty,
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
            requires_replace: false,
            use_state_for_unknown: false,
        }
    }
    pub fn string(name: impl Into<String>) -> Self {
        Self::new(name, Type::String)
    }
    pub fn number(name: impl Into<String>) -> Self {
        Self::new(name, Type::Number)
    }
    pub fn bool(name: impl Into<String>) -> Self {
        Self::new(name, Type::Bool)
    }
    pub fn set_of_strings(name: impl Into<String>) -> Self {
        Self::new(name, Type::set(Type::String))
    }
    pub fn list_of_strings(name: impl Into<String>) -> Self {
        Self::new(name, Type::list(Type::String))
    }
    pub fn map_of_strings(name: impl Into<String>) -> Self {
        Self::new(name, Type::map(Type::String))
    }
    flag_setters!(
        required,
        optional,
        computed,
        sensitive,
        write_only,
        deprecated,
        requires_replace,
        use_state_for_unknown,
    );
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }
}

/// A schema: a version (for state upgrades), a description and attributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    pub version: i64,
    pub description: String,
    pub attributes: Vec<Attribute>,
}

impl Schema {
    pub fn new(description: impl Into<String>) -> Self {
        Schema {
            version: 0,
            description: description.into(),
            attributes: Vec::new(),
        }
    }
    pub fn version(mut self, v: i64) -> Self {
        self.version = v;
        self
    }
    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }
    /// The object type of a value of this schema.
    pub fn ty(&self) -> Type {
        Type::Object(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone()))
                .collect(),
        )
    }
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
    pub fn has_write_only(&self) -> bool {
        self.attributes.iter().any(|a| a.write_only)
    }
}
