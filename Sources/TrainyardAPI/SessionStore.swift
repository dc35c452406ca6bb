import Foundation
import Synchronization

/// Browser sessions of the dashboard, held in memory (a restart logs everyone out).
///
/// A session starts either from the login form (the person types the key) or from a one-time
/// login link that an authenticated client asked for (`POST /v1/login-links`): the link's token
/// works once, for a minute, and is not the key. The cookie holds only a random session id.
/// Lifetimes are measured on the clock given at init.
public final class SessionStore: Sendable {
    private struct Grant {
        var principal: Principal
        /// Time since the store was made, on its clock, at which the grant ends.
        var expires: Duration
    }

    private let sessions = Mutex<[String: Grant]>([:])
    private let loginTokens = Mutex<[String: Grant]>([:])
    /// How long a session lasts after login.
    public let sessionLifetime: Duration
    /// How long a login link's token stays usable.
    public let loginTokenLifetime: Duration
    /// Most sessions (and most pending tokens) held at once; the oldest are dropped beyond it.
    public let capacity: Int
    /// Most sessions (and most pending tokens) of one key: its own oldest are dropped beyond it,
    /// so one key logging in over and over cannot push other keys' sessions out.
    public let perKeyLimit: Int
    /// Time since the store was made, read from its clock.
    private let elapsed: @Sendable () -> Duration

    public init(
        sessionLifetime: Duration = .seconds(8 * 3600), loginTokenLifetime: Duration = .seconds(60), capacity: Int = 10_000, perKeyLimit: Int = 20,
        clock: some Clock<Duration> = ContinuousClock()
    ) {
        self.sessionLifetime = sessionLifetime
        self.loginTokenLifetime = loginTokenLifetime
        self.capacity = capacity
        self.perKeyLimit = perKeyLimit
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
    }

    /// Starts a session for `principal`; returns its id (the cookie's value).
    public func startSession(for principal: Principal) -> String {
        insert(principal, lifetime: sessionLifetime, into: sessions)
    }

    /// The principal of a live session.
    public func principal(forSession id: String) -> Principal? {
        sessions.withLock { table in
            guard let grant = table[id] else { return nil }
            guard grant.expires > elapsed() else {
                table[id] = nil
                return nil
            }
            return grant.principal
        }
    }

    /// Ends a session (logout).
    public func endSession(_ id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// A one-time token that `redeem` turns into a session for `principal`.
    public func issueLoginToken(for principal: Principal) -> String {
        insert(principal, lifetime: loginTokenLifetime, into: loginTokens)
    }

    /// Whom a login token was issued for, if it is still valid, without using it up.
    public func holder(ofLoginToken token: String) -> Principal? {
        let now = elapsed()
        return loginTokens.withLock { table in table[token].flatMap { $0.expires > now ? $0.principal : nil } }
    }

    /// Uses up a login token; returns whom it was issued for, if it is still valid.
    public func redeem(loginToken token: String) -> Principal? {
        guard let grant = loginTokens.withLock({ $0.removeValue(forKey: token) }), grant.expires > elapsed() else { return nil }
        return grant.principal
    }

    private func insert(_ principal: Principal, lifetime: Duration, into table: borrowing Mutex<[String: Grant]>) -> String {
        let id = Self.randomToken()
        let now = elapsed()
        table.withLock { entries in
            entries = entries.filter { $0.value.expires > now }
            let own = entries.filter { $0.value.principal == principal }
            if own.count >= perKeyLimit, let oldest = own.min(by: { $0.value.expires < $1.value.expires }) {
                entries[oldest.key] = nil
            }
            if entries.count >= capacity, let oldest = entries.min(by: { $0.value.expires < $1.value.expires }) {
                entries[oldest.key] = nil
            }
            entries[id] = Grant(principal: principal, expires: now + lifetime)
        }
        return id
    }

    /// 32 random bytes as hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
