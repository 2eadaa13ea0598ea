/// How large a page of an answer may grow, in bytes (about): pages count items with `limit`,
/// and this bounds their size too, however large each item is; the cursor has the rest.
public enum AnswerSize {
    public static let maximumBytes = 8 << 20

    /// Ends `items` where their `size`s pass `maximumBytes`, keeping at least one so a page
    /// always moves the cursor on; true when it cut (the page is full: a cursor follows).
    public static func trim<Item>(_ items: inout [Item], size: (Item) -> Int) -> Bool {
        var budget = maximumBytes
        guard let cut = items.firstIndex(where: { budget -= size($0); return budget < 0 }) else { return false }
        items.removeSubrange(max(cut, 1)...)
        return true
    }
}
