# Definitions jq has that jaq's library lacks, written for this plugin.
def IN(s): any(s == .; .);
def IN(source; s): any(source == s; .);
def INDEX(stream; key): reduce stream as $row ({}; .[$row | key | tostring] |= $row);
def INDEX(key): INDEX(.[]; key);
def toarray: if type == "array" then . else [.] end;
