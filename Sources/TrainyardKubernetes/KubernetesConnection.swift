import Foundation

/// How to reach and authenticate to one API server.
public struct KubernetesConnection: Sendable, Equatable {
    /// `https://host:port` (or `http://` for a local stand-in).
    public var server: URL
    public var credentials: Credentials
    /// PEM bundle of the CAs that sign the server's certificate; nil uses the system's trust store.
    public var certificateAuthorityPEM: [UInt8]?
    /// Skip server certificate verification (kubeconfig `insecure-skip-tls-verify`; never in production).
    public var insecureSkipTLSVerify: Bool
    /// The namespace a kubeconfig context or the service account names (routes may override it).
    public var defaultNamespace: String?

    /// How requests prove who they are.
    public enum Credentials: Sendable, Equatable {
        case none
        /// A fixed bearer token (kubeconfig `token`).
        case bearerToken(String)
        /// A token file read again on every request, so a rotated service-account token is picked up.
        case bearerTokenFile(String)
        /// TLS client certificate and key, PEM.
        case clientCertificate(certificatePEM: [UInt8], keyPEM: [UInt8])
    }

    public init(
        server: URL, credentials: Credentials = .none, certificateAuthorityPEM: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false,
        defaultNamespace: String? = nil
    ) {
        self.server = server
        self.credentials = credentials
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.defaultNamespace = defaultNamespace
    }

    /// The `Authorization` header value, if the credentials use one. Reads a token file each time.
    func authorizationHeader() throws(KubernetesError) -> String? {
        switch credentials {
        case .none, .clientCertificate: return nil
        case .bearerToken(let token): return "Bearer \(token)"
        case .bearerTokenFile(let path):
            guard let token = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw KubernetesError(.configuration, "cannot read the service-account token file \(path)")
            }
            return "Bearer \(token.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
    }
}

/// Finds the connection: in-cluster when running in a pod, else a kubeconfig file.
public enum KubernetesConnectionLoader {
    /// Where a pod's service account is mounted.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The in-cluster connection (`KUBERNETES_SERVICE_HOST`/`PORT`, the mounted token, CA and namespace).
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment, serviceAccountDirectory: String = serviceAccountDirectory
    ) throws(KubernetesError) -> KubernetesConnection {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty, let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubernetesError(.configuration, "not running in a cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set")
        }
        // An IPv6 service address needs brackets in a URL.
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let server = URL(string: "https://\(authority)") else {
            throw KubernetesError(.configuration, "KUBERNETES_SERVICE_HOST/PORT do not form a URL: \(authority)")
        }
        let tokenPath = "\(serviceAccountDirectory)/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubernetesError(.configuration, "the service-account token \(tokenPath) is missing (automountServiceAccountToken: false?)")
        }
        let ca = FileManager.default.contents(atPath: "\(serviceAccountDirectory)/ca.crt").map { [UInt8]($0) }
        let namespace = (try? String(contentsOfFile: "\(serviceAccountDirectory)/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return KubernetesConnection(
            server: server, credentials: .bearerTokenFile(tokenPath), certificateAuthorityPEM: ca, defaultNamespace: namespace)
    }

    /// The connection of a kubeconfig's context (`context`, else its `current-context`). The path
    /// defaults to the first file of `KUBECONFIG`, else `~/.kube/config`.
    public static func kubeconfig(
        path: String? = nil, context: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KubernetesError) -> KubernetesConnection {
        let file =
            path ?? environment["KUBECONFIG"].flatMap { $0.split(separator: ":").first.map(String.init) }
            ?? "\(environment["HOME"] ?? NSHomeDirectory())/.kube/config"
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
            throw KubernetesError(.configuration, "cannot read kubeconfig \(file)")
        }
        return try Kubeconfig.parse(text, baseDirectory: URL(fileURLWithPath: file).deletingLastPathComponent().path).connection(context: context)
    }

    /// In-cluster when the service host is set and no kubeconfig was named, else the kubeconfig.
    public static func automatic(
        kubeconfigPath: String? = nil, context: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KubernetesError) -> KubernetesConnection {
        if kubeconfigPath == nil, environment["KUBECONFIG"] == nil, environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment)
        }
        return try kubeconfig(path: kubeconfigPath, context: context, environment: environment)
    }
}
