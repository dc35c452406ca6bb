import Foundation
import Testing
import TrainyardCore

@testable import TrainyardAPI

/// Requests written to hurt the API: headers it splits, redirects browsers bend, logins that
/// crowd others out.
@Suite("Hostile requests")
struct HostileRequestTests {
    static let spec = Data(#"{"apiVersion":"trainyard/v1","name":"n","team":"t","command":["true"]}"#.utf8)

    @Test("a Content-Type that is empty or only parameters is a 415, not a crash", arguments: [";", "", " ", ";;", "; charset=utf-8", ",", "\u{0}"])
    func emptyMediaType(contentType: String) {
        do {
            _ = try SpecDocument.parse(Self.spec, contentType: contentType)
            Issue.record("accepted Content-Type \(contentType.debugDescription)")
        } catch {
            #expect(error.status == .unsupportedMediaType)
        }
    }

    @Test("media types keep their parameters out of the decision")
    func mediaTypeWithParameters() throws {
        #expect(try SpecDocument.parse(Self.spec, contentType: "Application/JSON ; charset=utf-8").name == "n")
    }

    @Test(
        "redirects after login stay on this server, whatever browsers drop or decode",
        arguments: [
            "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/ /evil.example", "/\u{0B}/evil.example", "/\u{0C}/evil.example",
            "/\u{00A0}/evil.example", "/\u{3000}/evil.example", "//evil.example", "/\\evil.example", "\\\\evil.example", "\t//evil.example",
            " /x", "/x\u{0}", "https://evil.example", "jobs", "",
        ])
    func safeNext(hostile: String) {
        #expect(DashboardRoutes.safeNext(hostile) == "/")
    }

    @Test("local paths with queries survive the redirect check")
    func safeNextKeepsLocalPaths() {
        for path in ["/", "/jobs/01JABCDEFGHJKMNPQRSTVWXYZ0", "/?state=FAILED&team=a%20b", "/jobs/x#events"] {
            #expect(DashboardRoutes.safeNext(path) == path)
        }
    }

    @Test("one key logging in again and again evicts only its own oldest sessions")
    func sessionsPerKey() {
        let sessions = SessionStore(capacity: 50)
        let victim = sessions.startSession(for: Principal(name: "victim", team: "a"))
        let attacker = Principal(name: "attacker", team: "b")
        let first = sessions.startSession(for: attacker)
        var latest = first
        for _ in 0..<1_000 { latest = sessions.startSession(for: attacker) }
        #expect(sessions.principal(forSession: victim)?.name == "victim")
        #expect(sessions.principal(forSession: latest) == attacker)
        #expect(sessions.principal(forSession: first) == nil)
        let token = sessions.issueLoginToken(for: Principal(name: "victim", team: "a"))
        for _ in 0..<1_000 { _ = sessions.issueLoginToken(for: attacker) }
        #expect(sessions.redeem(loginToken: token)?.name == "victim")
    }
}
