import Foundation
import Hummingbird
import Logging
import TrainyardStore

/// Installs the HTTP API, the dashboard and `/openapi.yaml` on a router.
public struct APIServer: Sendable {
    let jobs: JobRoutes
    let dashboard: DashboardRoutes
    let logs: LogRoutes
    let spend: SpendRoutes

    /// - Parameters:
    ///   - store: the job store (read only here).
    ///   - keys: the API keys; with none, every authenticated endpoint answers 401.
    ///   - send: publishes submit and cancel commands to the requests topic.
    ///   - logSources: where `GET /v1/jobs/{id}/logs` reads attempts' output, by backend.
    public init(
        store: JobStore, authenticator: Authenticator, send: @escaping JobRequestSender, configuration: APIConfiguration = APIConfiguration(),
        logSources: LogSources = LogSources([]), logger: Logger
    ) {
        logs = LogRoutes(store: store, authenticator: authenticator, sources: logSources, logger: logger)
        spend = SpendRoutes(store: store, authenticator: authenticator)
        jobs = JobRoutes(store: store, authenticator: authenticator, send: send, configuration: configuration, logger: logger)
        dashboard = DashboardRoutes(store: store, authenticator: authenticator, configuration: configuration, logSources: logSources)
    }

    /// Adds the error middleware and the routes. Call it before adding other routes, so that their
    /// errors (and unknown paths) get the JSON error body too.
    public func install(on router: Router<BasicRequestContext>) {
        router.add(middleware: ErrorMiddleware(logger: jobs.logger))
        router.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_yaml)))
        }
        jobs.register(on: router)
        logs.register(on: router)
        spend.register(on: router)
        dashboard.register(on: router)
    }

    /// Every path the server answers, with its methods (for 405 and `Allow`). `*` is one segment.
    static let routes: [(pattern: [String], methods: [String])] = [
        (["v1", "jobs"], ["GET", "POST"]), (["v1", "jobs", "*"], ["GET"]), (["v1", "jobs", "*", "events"], ["GET"]),
        (["v1", "jobs", "*", "logs"], ["GET"]), (["v1", "spend"], ["GET"]),
        (["v1", "jobs", "*", "cancel"], ["POST"]), (["v1", "login-links"], ["POST"]), ([], ["GET"]), (["jobs", "*"], ["GET"]),
        (["login"], ["GET", "POST"]), (["logout"], ["POST"]), (["healthz"], ["GET"]), (["readyz"], ["GET"]), (["metrics"], ["GET"]),
        (["openapi.yaml"], ["GET"]),
    ]

    /// The methods `path` answers to, or nil for a path that does not exist.
    static func allowedMethods(for path: String) -> [String]? {
        let segments = path.split(separator: "/").map(String.init)
        return routes.first { route in
            route.pattern.count == segments.count && zip(route.pattern, segments).allSatisfy { $0 == "*" || $0 == $1 }
        }?.methods
    }
}

/// Turns every failure into the JSON error body: `APIError`s as they are, the framework's own
/// (unknown path, wrong method, body too large) by status, anything else as a logged 500.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as any HTTPResponseError {
            return translate(error.status, request: request).response()
        } catch {
            logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            return APIError(.internalServerError, "internal", "the server failed; the error is logged").response()
        }
    }

    private func translate(_ status: HTTPResponse.Status, request: Request) -> APIError {
        switch status {
        case .notFound:
            if let methods = APIServer.allowedMethods(for: request.uri.path) {
                return APIError(
                    .methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed here; use \(methods.joined(separator: " or "))",
                    headers: ["Allow": methods.joined(separator: ", ")])
            }
            return APIError(.notFound, "not_found", "no such path: \(request.uri.path)")
        case .contentTooLarge:
            return APIError(.contentTooLarge, "payload_too_large", "the body is larger than this endpoint accepts")
        default:
            return APIError(status, status.code < 500 ? "invalid_request" : "internal", status.reasonPhrase)
        }
    }
}
