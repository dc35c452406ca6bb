import Foundation
import HTTPTypes
import Hummingbird
import TrainyardCore

/// An API failure as the client sees it: a status and the JSON body
/// `{"error": {"code", "message", "fields": [{"field", "message"}]}}`.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// Stable, machine-readable: `unauthenticated`, `forbidden`, `not_found`, `invalid_request`, …
    public var code: String
    public var message: String
    /// Field-level problems (e.g. `resources.cpu`), when the input had any.
    public var fields: [SpecViolation]
    /// Extra response headers (`Allow` on 405, `WWW-Authenticate` on 401).
    public var headers: [String: String]

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, fields: [SpecViolation] = [], headers: [String: String] = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers
    }

    public static let unauthenticated = APIError(
        .unauthorized, "unauthenticated", "send a valid API key as 'Authorization: Bearer <key>'",
        headers: ["WWW-Authenticate": "Bearer realm=\"trainyard\""])

    /// The one answer for a job that does not exist or belongs to another team: both look alike.
    public static func jobNotFound(_ id: String) -> APIError {
        APIError(.notFound, "not_found", "no job \(id)")
    }

    public static func invalid(_ message: String, fields: [SpecViolation] = []) -> APIError {
        APIError(.badRequest, "invalid_request", message, fields: fields)
    }

    /// The error as a JSON response.
    public func response() -> Response {
        struct Body: Encodable {
            struct Detail: Encodable {
                var code: String
                var message: String
                var fields: [SpecViolation]?
            }
            var error: Detail
        }
        let body = Body(error: .init(code: code, message: message, fields: fields.isEmpty ? nil : fields))
        var response = JSONResponse.make(status: status, body)
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { response.headers[field] = value }
        }
        return response
    }
}

/// JSON responses in the wire format (sorted keys, ISO 8601 timestamps with milliseconds).
enum JSONResponse {
    static func make(status: HTTPResponse.Status = .ok, _ value: some Encodable, headers: HTTPFields = [:]) -> Response {
        // Encoding our own response types cannot fail; a failure would be a programming error.
        let data = (try? WireFormat.encoder().encode(value)) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
