//! The SOAP partner API `login` call (`POST /services/Soap/u/NN.N`), the
//! default login of simple-salesforce and jsforce.
//!
//! Shapes from the SOAP API Developer Guide: the request envelope carries
//! `<login><username/><password/></login>` in the `urn:partner.soap.sforce.com`
//! namespace (the password followed by the security token); the answer is a
//! `loginResponse/result` with `metadataServerUrl`, `passwordExpired`,
//! `sandbox`, `serverUrl`, `sessionId`, `userId` and `userInfo`
//! (getUserInfoResult); bad credentials answer HTTP 500 with a SOAP fault
//! `sf:INVALID_LOGIN` and a `sf:LoginFault` detail. Pure: text in, text out.

/// What a login answer says about the session and its user.
#[derive(Debug, Clone)]
pub struct LoginAnswer<'a> {
    /// The emulator's base URL, e.g. `https://127.0.0.1:8443`.
    pub base_url: &'a str,
    /// The API version of the request path, e.g. `62.0`.
    pub version: &'a str,
    pub session_id: &'a str,
    pub org_id: &'a str,
    pub org_name: &'a str,
    pub user_id: &'a str,
    pub username: &'a str,
    pub profile_id: &'a str,
    pub sandbox: bool,
    /// Seconds the session stays valid without use (`sessionSecondsValid`).
    pub session_seconds: u64,
}

/// Escapes text for an XML element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The text of the first element whose local name is `name` (any namespace
/// prefix), unescaped; `None` when absent.
fn element(xml: &str, name: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        if tag.starts_with('/') || tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        let qname = tag.split_whitespace().next().unwrap_or("");
        let local = qname.rsplit(':').next().unwrap_or(qname);
        if local != name {
            continue;
        }
        if tag.ends_with('/') {
            return Some(String::new());
        }
        let body = &rest[end + 1..];
        let close = format!("</{qname}>");
        let stop = body.find(&close)?;
        return Some(unescape(&body[..stop]));
    }
    None
}

/// The `login` call's username and password, or `None` when the envelope
/// holds no `login` element with both.
pub fn parse_login(body: &[u8]) -> Option<(String, String)> {
    let xml = std::str::from_utf8(body).ok()?;
    element(xml, "login")?;
    Some((element(xml, "username")?, element(xml, "password")?))
}

/// The `loginResponse` envelope.
pub fn login_response(a: &LoginAnswer<'_>) -> String {
    let e = escape;
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
            "<soapenv:Body><loginResponse><result>",
            "<metadataServerUrl>{base}/services/Soap/m/{ver}/{org}</metadataServerUrl>",
            "<passwordExpired>false</passwordExpired>",
            "<sandbox>{sandbox}</sandbox>",
            "<serverUrl>{base}/services/Soap/u/{ver}/{org}</serverUrl>",
            "<sessionId>{session}</sessionId>",
            "<userId>{user}</userId>",
            "<userInfo>",
            "<accessibilityMode>false</accessibilityMode>",
            "<chatterExternal>false</chatterExternal>",
            "<currencySymbol>$</currencySymbol>",
            "<orgAttachmentFileSizeLimit>5242880</orgAttachmentFileSizeLimit>",
            "<orgDefaultCurrencyIsoCode>USD</orgDefaultCurrencyIsoCode>",
            "<orgDefaultCurrencyLocale>en_US</orgDefaultCurrencyLocale>",
            "<orgDisallowHtmlAttachments>false</orgDisallowHtmlAttachments>",
            "<orgHasPersonAccounts>false</orgHasPersonAccounts>",
            "<organizationId>{org}</organizationId>",
            "<organizationMultiCurrency>false</organizationMultiCurrency>",
            "<organizationName>{org_name}</organizationName>",
            "<profileId>{profile}</profileId>",
            r#"<roleId xsi:nil="true"/>"#,
            "<sessionSecondsValid>{secs}</sessionSecondsValid>",
            r#"<userDefaultCurrencyIsoCode xsi:nil="true"/>"#,
            "<userEmail>{username}</userEmail>",
            "<userFullName>Integration User</userFullName>",
            "<userId>{user}</userId>",
            "<userLanguage>en_US</userLanguage>",
            "<userLocale>en_US</userLocale>",
            "<userName>{username}</userName>",
            "<userTimeZone>America/Los_Angeles</userTimeZone>",
            "<userType>Standard</userType>",
            "<userUiSkin>Theme3</userUiSkin>",
            "</userInfo>",
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        ),
        base = e(a.base_url),
        ver = e(a.version),
        org = e(a.org_id),
        sandbox = a.sandbox,
        session = e(a.session_id),
        user = e(a.user_id),
        org_name = e(a.org_name),
        profile = e(a.profile_id),
        secs = a.session_seconds,
        username = e(a.username),
    )
}

/// The documented fault for wrong credentials (sent with HTTP 500).
pub fn invalid_login_fault() -> String {
    fault(
        "INVALID_LOGIN",
        "Invalid username, password, security token; or user locked out.",
        "LoginFault",
    )
}

/// A SOAP fault with an `sf:` code and a typed detail (`LoginFault`,
/// `UnexpectedErrorFault`, ...).
pub fn fault(code: &str, message: &str, detail: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
            "<soapenv:Body><soapenv:Fault>",
            "<faultcode>sf:{code}</faultcode>",
            "<faultstring>{code}: {msg}</faultstring>",
            "<detail>",
            r#"<sf:{detail} xsi:type="sf:{detail}">"#,
            "<sf:exceptionCode>{code}</sf:exceptionCode>",
            "<sf:exceptionMessage>{msg}</sf:exceptionMessage>",
            "</sf:{detail}>",
            "</detail>",
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        ),
        code = escape(code),
        msg = escape(message),
        detail = escape(detail),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_request_with_any_prefix() {
        let req = r#"<?xml version="1.0" encoding="utf-8" ?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
  <env:Body>
    <n1:login xmlns:n1="urn:partner.soap.sforce.com">
      <n1:username>svc@acme.com</n1:username>
      <n1:password>p&amp;w&lt;TOKEN</n1:password>
    </n1:login>
  </env:Body>
</env:Envelope>"#;
        assert_eq!(
            parse_login(req.as_bytes()),
            Some(("svc@acme.com".into(), "p&w<TOKEN".into()))
        );
        let unprefixed = "<Envelope><Body><login xmlns=\"urn:partner.soap.sforce.com\"><username>a</username><password>b</password></login></Body></Envelope>";
        assert_eq!(
            parse_login(unprefixed.as_bytes()),
            Some(("a".into(), "b".into()))
        );
        assert_eq!(
            parse_login(b"<Envelope><Body><logout/></Body></Envelope>"),
            None
        );
    }

    #[test]
    fn answer_escapes_what_it_quotes() {
        let a = LoginAnswer {
            base_url: "https://h",
            version: "62.0",
            session_id: "00D!x",
            org_id: "00D",
            org_name: "A&B",
            user_id: "005",
            username: "a<b@c",
            profile_id: "00e",
            sandbox: false,
            session_seconds: 7200,
        };
        let x = login_response(&a);
        assert!(x.contains("<organizationName>A&amp;B</organizationName>"));
        assert!(x.contains("<userName>a&lt;b@c</userName>"));
        assert!(!x.contains("a<b@c"));
    }
}
