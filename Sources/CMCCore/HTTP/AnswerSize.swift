/// How large a page of an answer may grow, in bytes (about): pages count items with `limit`,
/// and this bounds their size too, however large each item is; the cursor has the rest.
public enum AnswerSize {
    public static let maximumBytes = 8 << 20
}
