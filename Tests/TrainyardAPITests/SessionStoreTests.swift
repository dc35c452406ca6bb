import Testing
import TrainyardAPI
import TrainyardTesting

/// Session and login-link lifetimes, measured on a manual clock: nothing here depends on how long
/// the test takes to run.
@Suite("Session store")
struct SessionStoreTests {
    let person = Principal(name: "alpha-ci", team: "alpha")

    @Test("a session lives exactly its lifetime, then is gone")
    func sessionExpires() {
        let clock = ManualClock()
        let sessions = SessionStore(sessionLifetime: .seconds(3600), clock: clock)
        let id = sessions.startSession(for: person)
        clock.advance(by: .seconds(3599))
        #expect(sessions.principal(forSession: id) == person)
        clock.advance(by: .seconds(1))
        #expect(sessions.principal(forSession: id) == nil)
    }

    @Test("a login token works within its lifetime, once")
    func loginTokenOnce() {
        let clock = ManualClock()
        let sessions = SessionStore(loginTokenLifetime: .seconds(60), clock: clock)
        let token = sessions.issueLoginToken(for: person)
        clock.advance(by: .seconds(59))
        #expect(sessions.holder(ofLoginToken: token) == person)
        #expect(sessions.redeem(loginToken: token) == person)
        #expect(sessions.redeem(loginToken: token) == nil)
    }

    @Test("an expired login token is neither shown nor redeemed")
    func loginTokenExpires() {
        let clock = ManualClock()
        let sessions = SessionStore(loginTokenLifetime: .seconds(60), clock: clock)
        let token = sessions.issueLoginToken(for: person)
        clock.advance(by: .seconds(60))
        #expect(sessions.holder(ofLoginToken: token) == nil)
        #expect(sessions.redeem(loginToken: token) == nil)
    }

}
