//! A small SOQL parser and evaluator for the subset a provisioning client
//! sends: `SELECT fields | COUNT() FROM User|Profile|UserLogin [WHERE ...] [ORDER BY ...]
//! [LIMIT n] [OFFSET n]` (on User also `Profile.<field>` through the relationship), with `=`, `!=`, `<>`, `<`, `<=`, `>`, `>=`,
//! `[NOT] IN (...)`, `LIKE`, `AND`/`OR`/`NOT`, parentheses, `true`/`false`/`null`
//! and string literals with `\'` and `\\` escapes.
//!
//! Parsing resolves every field and types every literal up front, so
//! evaluation over a million rows is plain comparisons. Anything outside the
//! subset answers MALFORMED_QUERY; an unknown field INVALID_FIELD.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::access;
use super::ids;
use super::org::sf_datetime;
use super::schema::{self, FieldDef, FieldKind, ObjField, ProfileField, Ty};

/// The queried object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    User,
    Profile,
    UserLogin,
    PermissionSet,
    PermissionSetGroup,
    Group,
    UserRole,
    PermissionSetAssignment,
    GroupMember,
}

/// Every queryable object.
const OBJECTS: [Object; 9] = [
    Object::User,
    Object::Profile,
    Object::UserLogin,
    Object::PermissionSet,
    Object::PermissionSetGroup,
    Object::Group,
    Object::UserRole,
    Object::PermissionSetAssignment,
    Object::GroupMember,
];

impl Object {
    pub fn name(self) -> &'static str {
        match self {
            Object::User => "User",
            Object::Profile => "Profile",
            Object::UserLogin => "UserLogin",
            Object::PermissionSet => "PermissionSet",
            Object::PermissionSetGroup => "PermissionSetGroup",
            Object::Group => "Group",
            Object::UserRole => "UserRole",
            Object::PermissionSetAssignment => "PermissionSetAssignment",
            Object::GroupMember => "GroupMember",
        }
    }

    /// The field table of a small object (`None` for User and Profile).
    pub fn fields(self) -> Option<&'static [ObjField]> {
        match self {
            Object::User | Object::Profile => None,
            Object::UserLogin => Some(schema::USER_LOGIN_FIELDS),
            Object::PermissionSet => Some(access::PERMISSION_SET_FIELDS),
            Object::PermissionSetGroup => Some(access::PERMISSION_SET_GROUP_FIELDS),
            Object::Group => Some(access::GROUP_FIELDS),
            Object::UserRole => Some(access::USER_ROLE_FIELDS),
            Object::PermissionSetAssignment => Some(access::ASSIGNMENT_FIELDS),
            Object::GroupMember => Some(access::MEMBER_FIELDS),
        }
    }

    fn parse(name: &str) -> Option<Object> {
        OBJECTS
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(name))
    }
}

/// A resolved column.
#[derive(Debug, Clone, Copy)]
pub enum Col {
    User(&'static FieldDef),
    Profile(ProfileField, &'static str),
    /// A field of the user's profile, read through the `Profile` relationship
    /// (`Profile.Name`); the name is the dotted path.
    UserProfile(ProfileField, &'static str),
    /// A field of a small object.
    Obj(&'static ObjField),
}

impl PartialEq for Col {
    fn eq(&self, other: &Col) -> bool {
        self.name() == other.name()
    }
}

/// How a column compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColType {
    Text,
    Id,
    DateTime,
    Bool,
}

impl Col {
    pub fn name(&self) -> &'static str {
        match self {
            Col::User(f) => f.name,
            Col::Profile(_, n) | Col::UserProfile(_, n) => n,
            Col::Obj(f) => f.name,
        }
    }

    fn ty(&self) -> ColType {
        match self {
            Col::User(f) => match (f.name, f.ty) {
                (_, Ty::Bool { .. }) => ColType::Bool,
                ("Id" | "ProfileId" | "UserRoleId" | "ManagerId", _) => ColType::Id,
                ("CreatedDate" | "LastModifiedDate", _) => ColType::DateTime,
                _ => ColType::Text,
            },
            Col::Profile(ProfileField::Id | ProfileField::UserLicenseId, _)
            | Col::UserProfile(ProfileField::Id | ProfileField::UserLicenseId, _) => ColType::Id,
            Col::Profile(..) | Col::UserProfile(..) => ColType::Text,
            Col::Obj(f) => match f.kind {
                FieldKind::Text => ColType::Text,
                FieldKind::Id => ColType::Id,
                FieldKind::Bool => ColType::Bool,
            },
        }
    }
}

/// A literal, typed for the column it is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    /// Text, lower-cased (text comparisons ignore case).
    Text(String),
    /// An Id in its 18-character form (compared exactly).
    Id(String),
    /// A datetime in Salesforce's stored form (compared as a string).
    DateTime(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Col, Op, Lit),
    In(Col, bool, Vec<Lit>),
    Like(Col, Vec<LikeTok>),
}

/// A LIKE pattern, lower-cased.
#[derive(Debug, Clone, PartialEq)]
pub enum LikeTok {
    Char(char),
    /// `_`
    One,
    /// `%`
    Any,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub col: Col,
    pub desc: bool,
    pub nulls_last: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    Count,
    Fields(Vec<Col>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub object: Object,
    pub select: Select,
    pub filter: Option<Expr>,
    pub order: Vec<OrderBy>,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// Why a query was refused: an error code and Salesforce-like message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoqlError {
    pub code: &'static str,
    pub message: String,
}

fn malformed(msg: impl Into<String>) -> SoqlError {
    SoqlError {
        code: "MALFORMED_QUERY",
        message: msg.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// The text between the quotes, escapes still in place.
    Str(String),
    Num(String),
    DateTime(String),
    Punct(&'static str),
}

impl Tok {
    fn show(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Num(s) | Tok::DateTime(s) => s.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Punct(p) => p.to_string(),
        }
    }
}

fn lex(q: &str) -> Result<Vec<Tok>, SoqlError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let s = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.'))
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[s..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let s = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], ':' | '-' | '+' | '.'))
            {
                i += 1;
            }
            let t: String = chars[s..i].iter().collect();
            if t[1..].contains('-') {
                out.push(Tok::DateTime(t));
            } else {
                out.push(Tok::Num(t));
            }
        } else if c == '\'' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(malformed("unterminated string literal")),
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let Some(&e) = chars.get(i + 1) else {
                            return Err(malformed("unterminated string literal"));
                        };
                        if !matches!(
                            e,
                            '\'' | '\\' | '"' | 'n' | 'r' | 't' | 'b' | 'f' | '%' | '_'
                        ) {
                            return Err(malformed(format!(
                                "Invalid string literal '\\{e}'. Illegal character sequence '\\{e}' in string literal."
                            )));
                        }
                        s.push('\\');
                        s.push(e);
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let p = match two.as_str() {
                "!=" => Some("!="),
                "<>" => Some("<>"),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(p) = p {
                out.push(Tok::Punct(p));
                i += 2;
                continue;
            }
            let p = match c {
                ',' => ",",
                '(' => "(",
                ')' => ")",
                '=' => "=",
                '<' => "<",
                '>' => ">",
                _ => return Err(malformed(format!("unexpected token: '{c}'"))),
            };
            out.push(Tok::Punct(p));
            i += 1;
        }
    }
    Ok(out)
}

/// Decodes a string literal's escapes. `like` keeps `\%` and `\_` as literal
/// characters and turns bare `%` and `_` into wildcards.
fn decode(raw: &str, like: bool) -> Vec<LikeTok> {
    let mut out = Vec::new();
    let mut it = raw.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            let e = it.next().unwrap_or('\\');
            out.push(LikeTok::Char(match e {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'b' => '\u{8}',
                'f' => '\u{c}',
                other => other,
            }));
        } else if like && c == '%' {
            out.push(LikeTok::Any);
        } else if like && c == '_' {
            out.push(LikeTok::One);
        } else {
            out.push(LikeTok::Char(c));
        }
    }
    out
}

fn decode_plain(raw: &str) -> String {
    decode(raw, false)
        .into_iter()
        .map(|t| match t {
            LikeTok::Char(c) => c,
            _ => unreachable!("no wildcards outside LIKE"),
        })
        .collect()
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    object: Object,
}

fn kw(t: Option<&Tok>, k: &str) -> bool {
    matches!(t, Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(k))
}

const RESERVED: &[&str] = &[
    "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "limit", "offset",
    "asc", "desc", "nulls", "first", "last", "true", "false", "null", "includes", "excludes",
];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn unexpected(&self) -> SoqlError {
        match self.peek() {
            Some(t) => malformed(format!("unexpected token: '{}'", t.show())),
            None => malformed("unexpected end of query"),
        }
    }

    fn expect_kw(&mut self, k: &str) -> Result<(), SoqlError> {
        if kw(self.peek(), k) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn eat_kw(&mut self, k: &str) -> bool {
        if kw(self.peek(), k) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn field_name(&mut self) -> Result<String, SoqlError> {
        match self.peek() {
            Some(Tok::Ident(s)) if !RESERVED.contains(&s.to_ascii_lowercase().as_str()) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn resolve(&self, name: &str) -> Result<Col, SoqlError> {
        let col = match self.object {
            Object::User => match name.split_once('.') {
                Some((rel, field)) if rel.eq_ignore_ascii_case("Profile") => {
                    schema::profile_field(field).map(|(f, _)| {
                        Col::UserProfile(
                            f,
                            match f {
                                ProfileField::Id => "Profile.Id",
                                ProfileField::Name => "Profile.Name",
                                ProfileField::UserType => "Profile.UserType",
                                ProfileField::UserLicenseId => "Profile.UserLicenseId",
                            },
                        )
                    })
                }
                _ => schema::user_field(name).map(Col::User),
            },
            Object::Profile => schema::profile_field(name).map(|(f, n)| Col::Profile(f, n)),
            other => other
                .fields()
                .and_then(|fields| schema::obj_field(fields, name))
                .map(Col::Obj),
        };
        col.ok_or_else(|| SoqlError {
            code: "INVALID_FIELD",
            message: format!(
                "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                self.object.name()
            ),
        })
    }

    fn literal(&mut self, col: &Col) -> Result<Lit, SoqlError> {
        let tok = self
            .next()
            .ok_or_else(|| malformed("unexpected end of query"))?;
        let mismatch = |t: &Tok| SoqlError {
            code: "INVALID_QUERY_FILTER_OPERATOR",
            message: format!(
                "value of filter criterion for field '{}' must be of type {} and should not be enclosed in quotes",
                col.name(),
                match col.ty() {
                    ColType::Bool => "boolean",
                    ColType::DateTime => "dateTime",
                    _ => "string",
                }
            ) + &format!(" (got {})", t.show()),
        };
        match (&tok, col.ty()) {
            (Tok::Ident(s), _) if s.eq_ignore_ascii_case("null") => Ok(Lit::Null),
            (Tok::Ident(s), ColType::Bool) if s.eq_ignore_ascii_case("true") => Ok(Lit::Bool(true)),
            (Tok::Ident(s), ColType::Bool) if s.eq_ignore_ascii_case("false") => {
                Ok(Lit::Bool(false))
            }
            (Tok::Str(raw), ColType::Text) => Ok(Lit::Text(decode_plain(raw).to_lowercase())),
            (Tok::Str(raw), ColType::Id) => {
                let v = decode_plain(raw);
                ids::to18(&v).map(Lit::Id).ok_or_else(|| SoqlError {
                    code: "INVALID_QUERY_FILTER_OPERATOR",
                    message: format!("invalid ID field: {v}"),
                })
            }
            (Tok::DateTime(s), ColType::DateTime) => parse_datetime(s)
                .map(Lit::DateTime)
                .ok_or_else(|| SoqlError {
                    code: "INVALID_QUERY_FILTER_OPERATOR",
                    message: format!(
                        "value of filter criterion for field '{}' must be of type dateTime: {s}",
                        col.name()
                    ),
                }),
            (Tok::Punct(_), _) => Err(malformed(format!("unexpected token: '{}'", tok.show()))),
            (Tok::Ident(s), _)
                if RESERVED.contains(&s.to_ascii_lowercase().as_str())
                    && !matches!(s.to_ascii_lowercase().as_str(), "true" | "false") =>
            {
                Err(malformed(format!("unexpected token: '{s}'")))
            }
            (t, _) => Err(mismatch(t)),
        }
    }

    fn condition(&mut self) -> Result<Expr, SoqlError> {
        let name = self.field_name()?;
        let col = self.resolve(&name)?;
        let not_in = kw(self.peek(), "not") && kw(self.toks.get(self.pos + 1), "in");
        if not_in {
            self.pos += 1;
        }
        if self.eat_kw("in") {
            if !self.eat_punct("(") {
                return Err(self.unexpected());
            }
            let mut lits = vec![self.literal(&col)?];
            while self.eat_punct(",") {
                lits.push(self.literal(&col)?);
            }
            if !self.eat_punct(")") {
                return Err(self.unexpected());
            }
            return Ok(Expr::In(col, not_in, lits));
        }
        if self.eat_kw("like") {
            if col.ty() != ColType::Text {
                return Err(SoqlError {
                    code: "INVALID_QUERY_FILTER_OPERATOR",
                    message: format!("invalid operator on {} field: LIKE", col.name()),
                });
            }
            return match self.next() {
                Some(Tok::Str(raw)) => {
                    let pat = decode(&raw, true)
                        .into_iter()
                        .flat_map(|t| match t {
                            LikeTok::Char(c) => {
                                c.to_lowercase().map(LikeTok::Char).collect::<Vec<_>>()
                            }
                            other => vec![other],
                        })
                        .collect();
                    Ok(Expr::Like(col, pat))
                }
                _ => {
                    self.pos -= 1;
                    Err(self.unexpected())
                }
            };
        }
        let op = match self.next() {
            Some(Tok::Punct("=")) => Op::Eq,
            Some(Tok::Punct("!=" | "<>")) => Op::Ne,
            Some(Tok::Punct("<")) => Op::Lt,
            Some(Tok::Punct("<=")) => Op::Le,
            Some(Tok::Punct(">")) => Op::Gt,
            Some(Tok::Punct(">=")) => Op::Ge,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        let lit = self.literal(&col)?;
        if lit == Lit::Null && !matches!(op, Op::Eq | Op::Ne) {
            return Err(malformed("null may only be compared with = or !="));
        }
        Ok(Expr::Cmp(col, op, lit))
    }

    fn unary(&mut self) -> Result<Expr, SoqlError> {
        if self.eat_kw("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat_punct("(") {
            let e = self.or_expr()?;
            if !self.eat_punct(")") {
                return Err(self.unexpected());
            }
            return Ok(e);
        }
        self.condition()
    }

    fn and_expr(&mut self) -> Result<Expr, SoqlError> {
        let mut e = self.unary()?;
        while self.eat_kw("and") {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn or_expr(&mut self) -> Result<Expr, SoqlError> {
        let mut e = self.and_expr()?;
        while self.eat_kw("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and_expr()?));
        }
        Ok(e)
    }

    fn number(&mut self) -> Result<usize, SoqlError> {
        match self.next() {
            Some(Tok::Num(n)) => n
                .parse()
                .map_err(|_| malformed(format!("unexpected token: '{n}'"))),
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }
}

/// `2025-01-31T00:00:00Z` / `...+01:00` / `...000+0000` to the stored form.
fn parse_datetime(s: &str) -> Option<String> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| {
        // Salesforce's own output form, `+0000` without a colon.
        let (head, tail) = s.split_at(s.len().checked_sub(5)?);
        let fixed = format!("{head}{}:{}", &tail[..3], &tail[3..]);
        time::OffsetDateTime::parse(&fixed, &Rfc3339).ok()
    })?;
    Some(sf_datetime(t))
}

/// Parses one SOQL statement.
pub fn parse(q: &str) -> Result<Query, SoqlError> {
    let toks = lex(q)?;
    let mut p = Parser {
        toks,
        pos: 0,
        object: Object::User,
    };
    p.expect_kw("select")?;
    let mut names = Vec::new();
    let mut count = false;
    if kw(p.peek(), "count") && matches!(p.toks.get(p.pos + 1), Some(Tok::Punct("("))) {
        p.pos += 2;
        if !p.eat_punct(")") {
            return Err(p.unexpected());
        }
        count = true;
    } else {
        names.push(p.field_name()?);
        while p.eat_punct(",") {
            names.push(p.field_name()?);
        }
    }
    p.expect_kw("from")?;
    let object = match p.next() {
        Some(Tok::Ident(o)) if Object::parse(&o).is_some() => Object::parse(&o).expect("checked"),
        Some(Tok::Ident(o)) if !RESERVED.contains(&o.to_ascii_lowercase().as_str()) => {
            return Err(SoqlError {
                code: "INVALID_TYPE",
                message: format!(
                    "sObject type '{o}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
                ),
            });
        }
        _ => {
            p.pos -= 1;
            return Err(p.unexpected());
        }
    };
    p.object = object;
    let select = if count {
        Select::Count
    } else {
        let mut cols: Vec<Col> = Vec::new();
        for n in &names {
            let c = p.resolve(n)?;
            if cols.iter().any(|x| x.name() == c.name()) {
                return Err(malformed(format!("duplicate field selected: {}", c.name())));
            }
            cols.push(c);
        }
        Select::Fields(cols)
    };
    let filter = if p.eat_kw("where") {
        Some(p.or_expr()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if p.eat_kw("order") {
        p.expect_kw("by")?;
        loop {
            let name = p.field_name()?;
            let col = p.resolve(&name)?;
            let desc = if p.eat_kw("desc") {
                true
            } else {
                p.eat_kw("asc");
                false
            };
            let mut nulls_last = desc;
            if p.eat_kw("nulls") {
                if p.eat_kw("last") {
                    nulls_last = true;
                } else {
                    p.expect_kw("first")?;
                    nulls_last = false;
                }
            }
            order.push(OrderBy {
                col,
                desc,
                nulls_last,
            });
            if !p.eat_punct(",") {
                break;
            }
        }
    }
    let limit = if p.eat_kw("limit") {
        Some(p.number()?)
    } else {
        None
    };
    let offset = if p.eat_kw("offset") { p.number()? } else { 0 };
    if p.peek().is_some() {
        return Err(p.unexpected());
    }
    Ok(Query {
        object,
        select,
        filter,
        order,
        limit,
        offset,
    })
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Text(Cow<'a, str>),
}

/// Something a query can read columns from.
pub trait Row {
    fn get(&self, col: &Col) -> Val<'_>;
}

fn ci_cmp(a: &str, b_lower: &str) -> Ordering {
    if a.is_ascii() {
        let a = a.bytes().map(|c| c.to_ascii_lowercase());
        a.cmp(b_lower.bytes())
    } else {
        a.to_lowercase().as_str().cmp(b_lower)
    }
}

fn lit_cmp(col: &Col, v: &str, lit: &Lit) -> Option<Ordering> {
    match lit {
        Lit::Text(t) => Some(ci_cmp(v, t)),
        Lit::Id(t) | Lit::DateTime(t) => {
            let _ = col;
            Some(v.cmp(t.as_str()))
        }
        _ => None,
    }
}

fn like(v: &[char], p: &[LikeTok]) -> bool {
    // Iterative wildcard match with single backtrack point (classic glob).
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < v.len() {
        match p.get(j) {
            Some(LikeTok::Any) => {
                star = Some((j, i));
                j += 1;
            }
            Some(LikeTok::One) => {
                i += 1;
                j += 1;
            }
            Some(LikeTok::Char(c)) if *c == v[i] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((sj, si)) => {
                    j = sj + 1;
                    i = si + 1;
                    star = Some((sj, si + 1));
                }
                None => return false,
            },
        }
    }
    p[j..].iter().all(|t| *t == LikeTok::Any)
}

impl Expr {
    pub fn eval(&self, row: &dyn Row) -> bool {
        match self {
            Expr::And(a, b) => a.eval(row) && b.eval(row),
            Expr::Or(a, b) => a.eval(row) || b.eval(row),
            Expr::Not(a) => !a.eval(row),
            Expr::Cmp(col, op, lit) => {
                let v = row.get(col);
                match (&v, lit) {
                    (Val::Null, Lit::Null) => *op == Op::Eq,
                    (Val::Null, _) => *op == Op::Ne,
                    (_, Lit::Null) => *op == Op::Ne,
                    (Val::Bool(b), Lit::Bool(l)) => match op {
                        Op::Eq => b == l,
                        Op::Ne => b != l,
                        _ => false,
                    },
                    (Val::Text(s), l) => match lit_cmp(col, s, l) {
                        Some(o) => match op {
                            Op::Eq => o == Ordering::Equal,
                            Op::Ne => o != Ordering::Equal,
                            Op::Lt => o == Ordering::Less,
                            Op::Le => o != Ordering::Greater,
                            Op::Gt => o == Ordering::Greater,
                            Op::Ge => o != Ordering::Less,
                        },
                        None => false,
                    },
                    _ => false,
                }
            }
            Expr::In(col, negated, lits) => {
                let v = row.get(col);
                let hit = lits.iter().any(|l| match (&v, l) {
                    (Val::Null, Lit::Null) => true,
                    (Val::Bool(b), Lit::Bool(x)) => b == x,
                    (Val::Text(s), l) => lit_cmp(col, s, l) == Some(Ordering::Equal),
                    _ => false,
                });
                hit != *negated
            }
            Expr::Like(col, pat) => match row.get(col) {
                Val::Text(s) => {
                    let v: Vec<char> = s.chars().flat_map(char::to_lowercase).collect();
                    like(&v, pat)
                }
                _ => false,
            },
        }
    }
}

/// Orders two rows by the ORDER BY list.
pub fn compare(order: &[OrderBy], a: &dyn Row, b: &dyn Row) -> Ordering {
    for o in order {
        let (va, vb) = (a.get(&o.col), b.get(&o.col));
        let ord = match (&va, &vb) {
            (Val::Null, Val::Null) => Ordering::Equal,
            (Val::Null, _) => {
                if o.nulls_last {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (_, Val::Null) => {
                if o.nulls_last {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (x, y) => {
                let base = match (x, y) {
                    (Val::Bool(p), Val::Bool(q)) => p.cmp(q),
                    (Val::Text(p), Val::Text(q)) => match o.col.ty() {
                        ColType::Text => p.to_lowercase().cmp(&q.to_lowercase()),
                        _ => p.cmp(q),
                    },
                    _ => Ordering::Equal,
                };
                if o.desc { base.reverse() } else { base }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// An open query locator: the matching rows, fixed at the first call.
#[derive(Debug)]
pub struct Cursor {
    pub object: Object,
    pub cols: Vec<Col>,
    pub rows: Vec<u32>,
    pub created: std::time::Instant,
    pub batch: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(&'static [(&'static str, Option<&'static str>)], bool);
    impl Row for R {
        fn get(&self, col: &Col) -> Val<'_> {
            if col.name() == "IsActive" {
                return Val::Bool(self.1);
            }
            match self.0.iter().find(|(n, _)| *n == col.name()) {
                Some((_, Some(v))) => Val::Text(Cow::Borrowed(v)),
                _ => Val::Null,
            }
        }
    }

    fn matches(q: &str, r: &R) -> bool {
        parse(q).unwrap().filter.unwrap().eval(r)
    }

    const ADA: R = R(
        &[
            ("Username", Some("Ada@Example.com")),
            ("FederationIdentifier", None),
            ("Id", Some("005EM0000000001YAA")),
            ("LastName", Some("O'Brien\\x")),
        ],
        true,
    );

    #[test]
    fn the_clients_full_read_parses() {
        let q = parse("SELECT Id,Username,Email,FirstName,LastName,Alias,IsActive,FederationIdentifier,ProfileId,UserType,CommunityNickname,EmployeeNumber,LastModifiedDate FROM User ORDER BY Id").unwrap();
        assert_eq!(q.object, Object::User);
        let Select::Fields(cols) = &q.select else {
            panic!()
        };
        assert_eq!(cols.len(), 13);
        assert_eq!(q.order.len(), 1);
    }

    #[test]
    fn where_forms() {
        assert!(matches(
            "select Id from user where Username = 'ada@example.COM'",
            &ADA
        ));
        assert!(matches(
            "SELECT Id FROM User WHERE Username IN ('x@y.z', 'ADA@example.com')",
            &ADA
        ));
        assert!(!matches(
            "SELECT Id FROM User WHERE Username NOT IN ('ada@example.com')",
            &ADA
        ));
        assert!(matches(
            "SELECT Id FROM User WHERE Username LIKE 'ada@%'",
            &ADA
        ));
        assert!(matches(
            "SELECT Id FROM User WHERE Username LIKE '_da@example.co_'",
            &ADA
        ));
        assert!(!matches(
            "SELECT Id FROM User WHERE Username LIKE 'da%'",
            &ADA
        ));
        assert!(matches(
            "SELECT Id FROM User WHERE FederationIdentifier = null AND IsActive = true",
            &ADA
        ));
        assert!(matches(
            "SELECT Id FROM User WHERE FederationIdentifier != 'x'",
            &ADA
        ));
        assert!(matches(
            "SELECT Id FROM User WHERE (IsActive = false OR Username != null) AND NOT IsActive = false",
            &ADA
        ));
        assert!(matches(
            "SELECT Id FROM User WHERE Id = '005EM0000000001'",
            &ADA
        ));
        assert!(matches(
            r"SELECT Id FROM User WHERE LastName = 'o\'brien\\x'",
            &ADA
        ));
    }

    #[test]
    fn errors_have_their_codes() {
        let code = |q: &str| parse(q).unwrap_err().code;
        assert_eq!(code("SELECT Foo FROM User"), "INVALID_FIELD");
        assert_eq!(code("SELECT Id FROM Account"), "INVALID_TYPE");
        assert_eq!(code("SELECT Id FROM User WHERE"), "MALFORMED_QUERY");
        assert_eq!(
            code("SELECT Id FROM User WHERE Username = 'x"),
            "MALFORMED_QUERY"
        );
        assert_eq!(code("SELECT Id, Id FROM User"), "MALFORMED_QUERY");
        assert_eq!(code("SELECT Id FROM User GROUP BY Id"), "MALFORMED_QUERY");
        assert_eq!(code("DELETE FROM User"), "MALFORMED_QUERY");
        assert_eq!(
            code("SELECT Id FROM User WHERE IsActive = 'true'"),
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(
            code("SELECT Id FROM User WHERE Id = 'nope'"),
            "INVALID_QUERY_FILTER_OPERATOR"
        );
    }

    #[test]
    fn profile_by_name_count_limit_offset() {
        let q =
            parse("SELECT Id, Name FROM Profile WHERE Name = 'Chatter Free User' LIMIT 1").unwrap();
        assert_eq!(q.object, Object::Profile);
        assert_eq!(q.limit, Some(1));
        let q = parse("SELECT COUNT() FROM User WHERE IsActive = true LIMIT 10 OFFSET 5").unwrap();
        assert_eq!(q.select, Select::Count);
        assert_eq!(q.offset, 5);
    }

    #[test]
    fn datetimes_compare_in_stored_form() {
        assert_eq!(
            parse_datetime("2025-11-03T09:15:27Z").as_deref(),
            Some("2025-11-03T09:15:27.000+0000")
        );
        assert_eq!(
            parse_datetime("2025-11-03T10:15:27+01:00").as_deref(),
            Some("2025-11-03T09:15:27.000+0000")
        );
        assert!(parse("SELECT Id FROM User WHERE LastModifiedDate > 2025-01-01T00:00:00Z").is_ok());
    }
}
