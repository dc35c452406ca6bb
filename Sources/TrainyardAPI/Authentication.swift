import Foundation
import HTTPTypes
import Hummingbird

/// Finds who sent a request: `Authorization: Bearer <key>` or the dashboard's session cookie.
public struct Authenticator: Sendable {
    /// The dashboard session cookie (HttpOnly, SameSite=Strict, holds a random session id).
    public static let sessionCookie = "trainyard_session"

    public let keys: APIKeyRing
    public let sessions: SessionStore

    public init(keys: APIKeyRing, sessions: SessionStore = SessionStore()) {
        self.keys = keys
        self.sessions = sessions
    }

    /// The principal, or nil. A request that sends an Authorization header is judged by it alone.
    public func principal(of request: Request) -> Principal? {
        if let header = request.headers[.authorization] { return keyPrincipal(header) }
        return sessionPrincipal(of: request)
    }

    /// The principal of a request that may change something, or a 401; or a 403 for a session
    /// cookie sent from a page that is not this server's (a cross-origin form or script).
    func require(_ request: Request) throws(APIError) -> Principal {
        if let header = request.headers[.authorization] {
            guard let principal = keyPrincipal(header) else { throw APIError.unauthenticated }
            return principal
        }
        guard let principal = sessionPrincipal(of: request) else { throw APIError.unauthenticated }
        if !Self.isSafe(request.method) { try Self.requireSameOrigin(request) }
        return principal
    }

    /// The principal of the request's session cookie, if it names a live session.
    func sessionPrincipal(of request: Request) -> Principal? {
        request.cookies[Self.sessionCookie].flatMap { sessions.principal(forSession: $0.value) }
    }

    /// A 403 unless a browser says the request comes from one of this server's pages.
    static func requireSameOrigin(_ request: Request) throws(APIError) {
        guard RequestOrigin.isSameOrigin(request.headers, authority: request.head.authority) else {
            throw APIError(
                .forbidden, "cross_origin",
                "a browser session changes things only from this server's own pages; API clients send 'Authorization: Bearer <key>'")
        }
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool { [.get, .head, .options].contains(method) }

    private func keyPrincipal(_ header: String) -> Principal? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return keys.principal(for: parts[1].trimmingCharacters(in: .whitespaces))
    }
}
