/** webpack resolves `require` of JSON files (the package's own version). */
declare function require(path: string): any;
