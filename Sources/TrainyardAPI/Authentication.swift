import Foundation
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
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
            return keys.principal(for: parts[1].trimmingCharacters(in: .whitespaces))
        }
        if let session = request.cookies[Self.sessionCookie]?.value {
            return sessions.principal(forSession: session)
        }
        return nil
    }

    /// The principal, or a 401.
    func require(_ request: Request) throws(APIError) -> Principal {
        guard let principal = principal(of: request) else { throw APIError.unauthenticated }
        return principal
    }
}
