// Files imported as text (SQL migrations) are embedded in the binary.
declare module '*.sql' {
  const text: string
  export default text
}
