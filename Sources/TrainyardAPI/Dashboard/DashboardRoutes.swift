import Foundation
import HTTPTypes
import Hummingbird
import TrainyardCore
import TrainyardStore

/// The dashboard (`/`, `/jobs/{id}`), its login (`/login`, `/logout`) and the one-time login
/// links an API client can ask for (`POST /v1/login-links`, e.g. to open the dashboard from a
/// headless browser that cannot send an Authorization header).
struct DashboardRoutes: Sendable {
    let store: JobStore
    let authenticator: Authenticator
    let configuration: APIConfiguration
    let logSources: LogSources

    /// No scripts, no external resources, no framing; forms post only here.
    static let securityHeaders: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff", .cacheControl: "no-store",
    ]

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in try jobsPage(request) }
        router.get("jobs/:id") { request, context in try await jobPage(request, id: context.parameters.get("id") ?? "") }
        router.get("login") { request, _ in loginWithToken(request) }
        router.post("login") { request, _ in try await loginWithKey(request) }
        router.post("logout") { request, _ in try logout(request) }
        router.post("v1/login-links") { request, _ in try await loginLink(request) }
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: securityHeaders, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// A local path to return to after login; anything else becomes `/`. Only the characters of
    /// a URL path and query are allowed (no spaces, controls, backslashes or non-ASCII: browsers
    /// drop tabs and newlines, so `/<tab>/evil.example` would read as `//evil.example`), and the
    /// second character may not start an authority (`//`, `/\\`).
    static func safeNext(_ text: String?) -> String {
        guard let text, text.hasPrefix("/"), text.utf8.count <= 512, text.utf8.allSatisfy(isPathByte) else { return "/" }
        guard let second = text.utf8.dropFirst().first else { return text }
        return second == UInt8(ascii: "/") ? "/" : text
    }

    /// RFC 3986's unreserved, sub-delims, `:@/?%` and `#`.
    private static func isPathByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "-._~!$&'()*+,;=:@/?%#".utf8.contains(byte)
        }
    }

    private func loginRedirect(_ request: Request) -> Response {
        let here = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        return Self.redirect(to: "/login?next=" + HTML.queryValue(here))
    }

    func jobsPage(_ request: Request) throws -> Response {
        guard let principal = authenticator.principal(of: request) else { return loginRedirect(request) }
        var filters = JobQuery(limit: ListParameters.defaultLimit)
        var problem: String?
        do {
            filters = try ListParameters(request.queryPairs).query
        } catch {
            problem = "Filters ignored: " + error.fields.map(\.description).joined(separator: "; ")
        }
        if let team = principal.team { filters.team = team }
        let pageSize = filters.limit
        filters.limit = pageSize + 1
        let records = try store.jobs(matching: filters)
        let jobs = Array(records.prefix(pageSize))
        var counts: [JobState: Int] = [:]
        for row in try store.jobCounts() where principal.canAccess(team: row.team) { counts[row.state, default: 0] += row.count }
        let now = Date()
        let page = JobsPage(
            principal: principal, filters: filters, jobs: jobs,
            nextCursor: records.count > pageSize ? jobs.last.map { PageCursor.encode(after: $0.jobID) } : nil, stateCounts: counts,
            finishedLastHour: try store.finishedCounts(since: now.addingTimeInterval(-3600), team: principal.team), error: problem, now: now,
            spend: try teamSpend(for: principal, now: now),
            quotas: QuotaPanel(usage: try store.teamUsage(team: principal.team), policy: configuration.quotas?.policy, principal: principal))
        return Self.html(page.render(), status: problem == nil ? .ok : .badRequest)
    }

    /// Spend per team over the last 24 h and 30 days (only the principal's team for a team key).
    private func teamSpend(for principal: Principal, now: Date) throws -> [JobsPage.TeamSpend] {
        func report(_ days: Double) throws -> [String: SpendGroup] {
            let query = SpendQuery(since: now.addingTimeInterval(-days * 86_400), until: now, groupBy: .team, team: principal.team)
            return Dictionary(uniqueKeysWithValues: try store.spend(query).groups.compactMap { group in group.key.map { ($0, group) } })
        }
        let day = try report(1)
        let month = try report(30)
        return month.keys.sorted().map { team in
            JobsPage.TeamSpend(
                team: team, lastDay: day[team]?.costUSD ?? 0, lastMonth: month[team]?.costUSD ?? 0,
                includesEstimates: month[team]?.includesEstimates == true)
        }
    }

    func jobPage(_ request: Request, id: String) async throws -> Response {
        guard let principal = authenticator.principal(of: request) else { return loginRedirect(request) }
        guard let jobID = JobID(id), let job = try store.job(jobID), principal.canAccess(team: job.team) else {
            return Self.html(HTML.page(title: "Not found", principal: principal, body: "<h1>No job \(HTML.escape(id))</h1>"), status: .notFound)
        }
        let page = JobPage(
            principal: principal, job: job, spec: try store.spec(of: jobID), attempts: try store.attempts(of: jobID),
            events: try store.events(of: jobID), logTail: await JobLogTail.read(job, sources: logSources, store: store),
            now: Date())
        return Self.html(page.render())
    }

    /// `GET /login`: the form; with `?token=` from a login link, a session and a redirect when
    /// that switches no one: the browser says the person opened the link themselves
    /// (`Sec-Fetch-Site: none` or `same-origin`, so a session cookie would be visible) and holds no
    /// session of someone else. Otherwise a page that says whom the link logs in and asks first.
    func loginWithToken(_ request: Request) -> Response {
        let parameters = request.uri.queryParameters
        let next = Self.safeNext(parameters["next"].map(String.init))
        guard let token = parameters["token"].map(String.init) else { return Self.html(LoginPage(next: next).render()) }
        guard let holder = authenticator.sessions.holder(ofLoginToken: token) else {
            return Self.html(
                LoginPage(next: next, error: "That login link is used up or expired; log in with your key.").render(), status: .unauthorized)
        }
        let current = authenticator.sessionPrincipal(of: request)
        let site = request.headers[RequestOrigin.fetchSite]?.lowercased()
        guard site == "none" || site == "same-origin", current == nil || current == holder else {
            return Self.html(LoginPage(next: next, link: .init(token: token, holder: holder, current: current)).render())
        }
        return logIn(with: token, next: next, request: request)
    }

    /// `POST /login` (form: key, or token from a login link; next), from this server's own page.
    func loginWithKey(_ request: Request) async throws -> Response {
        try Authenticator.requireSameOrigin(request)
        let body = try await request.body.collect(upTo: configuration.maxSmallBodyBytes)
        let form = Self.formFields(String(buffer: body))
        let next = Self.safeNext(form["next"])
        if let token = form["token"] { return logIn(with: token, next: next, request: request) }
        guard let key = form["key"], let principal = authenticator.keys.principal(for: key.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return Self.html(LoginPage(next: next, error: "Unknown API key.").render(), status: .unauthorized)
        }
        return startSession(for: principal, next: next, request: request)
    }

    private func logIn(with token: String, next: String, request: Request) -> Response {
        guard let principal = authenticator.sessions.redeem(loginToken: token) else {
            return Self.html(
                LoginPage(next: next, error: "That login link is used up or expired; log in with your key.").render(), status: .unauthorized)
        }
        return startSession(for: principal, next: next, request: request)
    }

    /// Replaces the browser's session (the one it had ends) and redirects to `next`.
    private func startSession(for principal: Principal, next: String, request: Request) -> Response {
        if let previous = request.cookies[Authenticator.sessionCookie]?.value { authenticator.sessions.endSession(previous) }
        let session = authenticator.sessions.startSession(for: principal)
        var response = Self.redirect(to: next)
        response.setCookie(
            Cookie(
                name: Authenticator.sessionCookie, value: session, maxAge: Int(authenticator.sessions.sessionLifetime.components.seconds), path: "/",
                secure: RequestOrigin.arrivedOverTLS(request.headers), httpOnly: true, sameSite: .strict))
        return response
    }

    func logout(_ request: Request) throws -> Response {
        try Authenticator.requireSameOrigin(request)
        if let session = request.cookies[Authenticator.sessionCookie]?.value { authenticator.sessions.endSession(session) }
        var response = Self.redirect(to: "/login")
        response.setCookie(
            Cookie(
                name: Authenticator.sessionCookie, value: "", maxAge: 0, path: "/", secure: RequestOrigin.arrivedOverTLS(request.headers),
                httpOnly: true,
                sameSite: .strict))
        return response
    }

    /// `POST /v1/login-links` (Bearer key; optional JSON `{"next": "/jobs/<id>"}`): a one-time
    /// URL that logs a browser in for the same principal. The link holds a token, never the key.
    func loginLink(_ request: Request) async throws -> Response {
        let principal = try authenticator.require(request)
        let body = try await request.body.collect(upTo: configuration.maxSmallBodyBytes)
        var next = "/"
        let data = Data(buffer: body)
        if data.contains(where: { !Character(UnicodeScalar($0)).isWhitespace }) {
            guard let fields = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw APIError.invalid(
                    "the body must be a JSON object like {\"next\": \"/\"}", fields: [SpecViolation(field: "", message: "must be a JSON object")])
            }
            if let unknown = fields.keys.sorted().first(where: { $0 != "next" }) {
                throw APIError.invalid(
                    "invalid login link request", fields: [SpecViolation(field: unknown, message: "is not a field of a login link request")])
            }
            if let value = fields["next"], !(value is NSNull) {
                guard let text = value as? String, !(value is NSNumber), Self.safeNext(text) == text else {
                    throw APIError.invalid(
                        "invalid login link request",
                        fields: [SpecViolation(field: "next", message: "must be a path on this server, like /jobs/<id>")])
                }
                next = text
            }
        }
        let token = authenticator.sessions.issueLoginToken(for: principal)
        let seconds = Int(authenticator.sessions.loginTokenLifetime.components.seconds)
        return JSONResponse.make(status: .created, LoginLink(url: "/login?token=\(token)&next=\(HTML.queryValue(next))", expiresInSeconds: seconds))
    }

    /// Decodes `application/x-www-form-urlencoded` text.
    static func formFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String { part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }
}
