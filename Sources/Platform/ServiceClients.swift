import Devices
import History

/// The services as other services reach them: in-process in this binary, the seam where a
/// process running some services reaches the others over the network.
public struct ServiceClients: Sendable {
    public let devices: any DevicesClient
    public let history: any HistoryClient
}
