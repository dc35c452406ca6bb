import Foundation
import HTTPTypes

/// What a request's headers say about where it came from and how it arrived: whether a browser
/// sent it from one of this server's own pages (for cookie-authenticated changes, which
/// SameSite=Strict alone does not protect from other ports or subdomains of the same site), and
/// whether it reached us over TLS (for the cookie's `Secure` attribute).
enum RequestOrigin {
    static let fetchSite = HTTPField.Name("Sec-Fetch-Site")!
    static let origin = HTTPField.Name("Origin")!
    static let forwardedHost = HTTPField.Name("X-Forwarded-Host")!
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let forwarded = HTTPField.Name("Forwarded")!

    /// True when a browser says the request comes from this origin: `Sec-Fetch-Site: same-origin`,
    /// or (browsers without it) an `Origin` whose host and port are this request's `Host` (or the
    /// proxy's `X-Forwarded-Host`). A request with neither header is not from one of our pages.
    static func isSameOrigin(_ headers: HTTPFields, authority: String?) -> Bool {
        if let site = headers[fetchSite] { return site.trimmingCharacters(in: .whitespaces).lowercased() == "same-origin" }
        guard let origin = headers[origin], let url = URL(string: origin.trimmingCharacters(in: .whitespaces)), let host = url.host,
            url.scheme == "http" || url.scheme == "https", url.path.isEmpty, url.user == nil
        else { return false }
        let defaultPort = url.scheme == "https" ? 443 : 80
        let claimed = "\(host.lowercased()):\(url.port ?? defaultPort)"
        let candidates = [authority, headers[forwardedHost]?.split(separator: ",").first.map(String.init)].compactMap { $0 }
        return candidates.contains { normalized($0, defaultPort: defaultPort) == claimed }
    }

    /// True when the request arrived over TLS as far as a proxy in front says so
    /// (`X-Forwarded-Proto: https` or `Forwarded: proto=https`). Claiming it falsely only makes
    /// the claimant's own cookie stricter.
    static func arrivedOverTLS(_ headers: HTTPFields) -> Bool {
        if let proto = headers[forwardedProto]?.split(separator: ",").first {
            return proto.trimmingCharacters(in: .whitespaces).lowercased() == "https"
        }
        if let forwarded = headers[forwarded]?.split(separator: ",").first {
            return forwarded.split(separator: ";").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() == "proto=https" }
        }
        return false
    }

    /// `host:port`, lowercased, with the scheme's default port when none is given.
    private static func normalized(_ authority: String, defaultPort: Int) -> String {
        let text = authority.trimmingCharacters(in: .whitespaces).lowercased()
        guard let url = URL(string: "http://" + text), let host = url.host else { return "" }
        return "\(host):\(url.port ?? defaultPort)"
    }
}
