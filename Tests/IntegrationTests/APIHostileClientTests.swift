import Foundation
import Testing
import TrainyardAPI
import TrainyardCore
import TrainyardTesting

#if canImport(Glibc)
    import Glibc
#endif

/// Requests a browser or a client library would never send, over a raw socket so that nothing
/// normalizes them, against the real aggregator.
extension APITests {
    /// A response read to the end of the connection.
    struct RawReply {
        var status: Int
        /// Header names lowercased; repeated headers (Set-Cookie) joined with "\n".
        var headers: [String: String]
        var body: String

        var sessionCookie: String? {
            headers["set-cookie"]?.split(separator: "\n").first { $0.hasPrefix(Authenticator.sessionCookie + "=") }
                .map { String($0.split(separator: ";")[0]) }
        }
    }

    /// Sends `head` (request line and headers, without the blank line) and `body` on a new
    /// connection with `Connection: close`; reads the whole answer.
    static func raw(port: Int, _ head: [String], body: String = "") throws -> RawReply {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0, "cannot connect to 127.0.0.1:\(port)")
        let request = (head + ["Host: 127.0.0.1:\(port)", "Connection: close", "Content-Length: \(body.utf8.count)", "", body]).joined(
            separator: "\r\n")
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            try #require(count > 0, "send failed")
            sent += count
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        let text = String(decoding: answer, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let lines = (parts.first ?? "").components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + "\n" + value } ?? value
        }
        return RawReply(status: status, headers: headers, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test("an empty Content-Type and a YAML alias bomb are 4xx; the aggregator stays up")
    func hostileBodies() async throws {
        try await Self.withDeployment("api-hostile-bodies", worker: false) { api in
            let spec = Self.spec("typed", team: "alpha")
            for contentType in ["Content-Type: ;", "Content-Type:", "Content-Type: ; charset=utf-8"] {
                let reply = try Self.raw(port: api.port, ["POST /v1/jobs HTTP/1.1", "Authorization: Bearer \(api.alpha)", contentType], body: spec)
                #expect(reply.status == 415, "\(contentType): \(reply.status) \(reply.body)")
            }
            var bomb = "apiVersion: trainyard/v1\nname: bomb\nteam: alpha\ncommand: [\"true\"]\nx:\n  a0: &a0 [\"aaaaaaaaaa\"]\n"
            for level in 1...6 { bomb += "  a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ",") + "]\n" }
            let refused = try await api.submit(bomb, key: api.alpha, type: "application/yaml")
            #expect(refused.status == 400 && refused.text.contains("anchor"), "\(refused.status) \(refused.text)")
            #expect(try await api.call("GET", "/healthz", key: nil).status == 200)
            #expect(try await api.submit(spec, key: api.alpha).status == 202)
        }
    }

    @Test("one Idempotency-Key with another spec is a 409; with the same spec, the same job")
    func idempotencyConflict() async throws {
        try await Self.withDeployment("api-idempotency", worker: false) { api in
            let key = ["Idempotency-Key": "nightly-2026-12-03"]
            let first = try await api.submit(Self.spec("nightly", team: "alpha"), key: api.alpha, headers: key)
            #expect(first.status == 202)
            let again = try await api.submit(Self.spec("nightly", team: "alpha"), key: api.alpha, headers: key)
            let firstID = try first.json()["jobId"] as? String
            #expect(try again.status == 202 && again.json()["jobId"] as? String == firstID)
            let other = try await api.submit(Self.spec("nightly-changed", team: "alpha"), key: api.alpha, headers: key)
            #expect(other.status == 409, "\(other.status) \(other.text)")
            #expect(other.text.contains("idempotency_conflict"))
            let stored = try await api.call("GET", "/v1/jobs/\(firstID ?? "")", key: api.alpha).json()
            #expect((stored["spec"] as? [String: Any])?["name"] as? String == "nightly")
        }
    }

    @Test("a session cookie changes things only from this server's pages; Secure behind TLS; a login link never silently switches sessions")
    func browserSessions() async throws {
        try await Self.withDeployment("api-sessions", worker: false) { api in
            let port = api.port
            let origin = "Origin: http://127.0.0.1:\(port)"
            func login(_ key: String, _ extra: [String]) throws -> RawReply {
                try Self.raw(
                    port: port, ["POST /login HTTP/1.1", "Content-Type: application/x-www-form-urlencoded"] + extra,
                    body: "key=\(key)&next=%2F")
            }
            #expect(try login(api.alpha, ["Origin: http://evil.example"]).status == 403, "login CSRF")
            #expect(try login(api.alpha, ["Sec-Fetch-Site: cross-site"]).status == 403)
            let plain = try login(api.alpha, [origin])
            #expect(plain.status == 303 && plain.headers["set-cookie"]?.contains("Secure") == false)
            let cookie = try #require(plain.sessionCookie)
            let proxied = try login(api.alpha, ["Sec-Fetch-Site: same-origin", "X-Forwarded-Proto: https"])
            #expect(proxied.status == 303 && proxied.headers["set-cookie"]?.contains("Secure") == true)

            let job = try #require(try await api.submit(Self.spec("target", team: "alpha"), key: api.alpha).json()["jobId"] as? String)
            let cancel = "POST /v1/jobs/\(job)/cancel HTTP/1.1"
            for hostile in [
                ["Origin: http://127.0.0.1:\(port + 1)"], ["Origin: http://sub.127.0.0.1:\(port)"], ["Sec-Fetch-Site: same-site"],
                ["Sec-Fetch-Site: cross-site", origin], ["Origin: null"], [],
            ] {
                let reply = try Self.raw(port: port, [cancel, "Cookie: \(cookie)"] + hostile)
                #expect(reply.status == 403 && reply.body.contains("cross_origin"), "\(hostile): \(reply.status)")
            }
            #expect(try Self.raw(port: port, ["GET /v1/jobs HTTP/1.1", "Cookie: \(cookie)"]).status == 200, "reads need no origin")
            #expect(try Self.raw(port: port, [cancel, "Cookie: \(cookie)", "Sec-Fetch-Site: same-origin"]).status == 202)
            #expect(try Self.raw(port: port, [cancel, "Cookie: \(cookie)", origin]).status == 202)
            #expect(try Self.raw(port: port, ["POST /logout HTTP/1.1", "Cookie: \(cookie)", "Sec-Fetch-Site: cross-site"]).status == 403)

            // Team beta's link opened in a browser logged in as alpha: a question, not a switch.
            let link = try #require(try await api.call("POST", "/v1/login-links", key: api.beta).json()["url"] as? String)
            let asked = try Self.raw(port: port, ["GET \(link) HTTP/1.1", "Cookie: \(cookie)", "Sec-Fetch-Site: none"])
            #expect(asked.status == 200 && asked.headers["set-cookie"] == nil)
            #expect(asked.body.contains("logs this browser in as <b>beta-ci (team beta)</b>") && asked.body.contains("logged in as <b>alpha-ci"))
            // Followed from another site, the server cannot see a session: it asks as well.
            let crossSite = try Self.raw(port: port, ["GET \(link) HTTP/1.1", "Sec-Fetch-Site: cross-site"])
            #expect(crossSite.status == 200 && crossSite.headers["set-cookie"] == nil)
            let token = try #require(link.split(separator: "token=").last?.split(separator: "&").first.map(String.init))
            let confirmed = try Self.raw(
                port: port, ["POST /login HTTP/1.1", "Content-Type: application/x-www-form-urlencoded", "Cookie: \(cookie)", origin],
                body: "token=\(token)&next=%2F")
            #expect(confirmed.status == 303 && confirmed.sessionCookie != nil)
            #expect(try Self.raw(port: port, ["GET /v1/jobs HTTP/1.1", "Cookie: \(cookie)"]).status == 401, "the replaced session ended")
            // Opened directly in a browser with no session, a link logs in at once (headless browsers, ops/screenshot).
            let direct = try #require(try await api.call("POST", "/v1/login-links", key: api.beta).json()["url"] as? String)
            let opened = try Self.raw(port: port, ["GET \(direct) HTTP/1.1", "Sec-Fetch-Site: none"])
            #expect(opened.status == 303 && opened.sessionCookie != nil)
        }
    }
}
