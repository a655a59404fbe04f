def self_start(r): pass
open_link=resume=page=emergency=review=submit=thanks=self_start
