import TrainyardAWS

/// The SageMaker read calls the backend makes, over the JSON client.
struct SageMakerAPI: Sendable {
    let client: AWSJSONClient

    /// Describe<Kind>Job; nil when the job does not exist (SageMaker answers
    /// `ValidationException` "Requested resource not found" or `ResourceNotFound`).
    func describe(_ kind: SageMakerJobKind, name: String) async throws(AWSError) -> SageMakerJobStatus? {
        do {
            let document = try await client.call("Describe\(kind.noun)", [kind.nameField: .string(name)])
            return SageMakerJobStatus(kind: kind, document: document)
        } catch let error where Self.isNotFound(error) {
            return nil
        }
    }

    /// Names of `kind` jobs whose name contains `fragment`, all pages.
    func listNames(_ kind: SageMakerJobKind, containing fragment: String) async throws(AWSError) -> [String] {
        var names: [String] = []
        var token: String?
        repeat {
            var body: [String: JSONValue] = ["NameContains": .string(fragment), "MaxResults": 100]
            if let token { body["NextToken"] = .string(token) }
            let page = try await client.call("List\(kind.noun)s", .object(body))
            names += (page["\(kind.noun)Summaries"]?.array ?? []).compactMap { $0[kind.nameField]?.string }
            token = page["NextToken"]?.string
        } while token != nil
        return names
    }

    static func isNotFound(_ error: AWSError) -> Bool {
        guard error.kind == .client else { return false }
        if error.code == "ResourceNotFound" { return true }
        let message = error.message.lowercased()
        return error.code.hasPrefix("Validation")
            && (message.contains("not found") || message.contains("could not find") || message.contains("does not exist"))
    }
}
